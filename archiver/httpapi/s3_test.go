package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3ServesTheManifestVersion: on a versioned bucket (Object Lock turns versioning on),
// someone with the bucket's credentials puts a second version under a sealed export's key,
// same size and even the same sha256 metadata. The manifest names the version the seal
// created, and everything that reads the day reads that one: the API in both codings, the
// presigned URL, export tasks. verify reports that the key's current version is another.
func TestS3ServesTheManifestVersion(t *testing.T) {
	ctx := context.Background()
	store, c, bucket := lockedStore(t)
	var engine *exporttask.Engine
	f := newFixtureOn(t, store, func(s *httpapi.Server) {
		s.Presign = func(ctx context.Context, key, versionID string) (string, time.Time, error) {
			u, err := store.PresignGetVersion(ctx, key, versionID, time.Minute)
			return u, s.Now().Add(time.Minute), err
		}
		engine = &exporttask.Engine{Store: store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	golden, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ledger.Ledger{Store: store}.Latest(ctx, acme, mustDay(t, sample))
	if err != nil || m == nil {
		t.Fatalf("latest: %v %v", m, err)
	}
	objKey := store.ObjectKey(m.Data.Key)
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(objKey)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Data.VersionID == "" || m.Data.VersionID != aws.ToString(head.VersionId) {
		t.Fatalf("manifest's versionId %q, the object's version %q", m.Data.VersionID, aws.ToString(head.VersionId))
	}
	// Version 2 manifests leave the shared quarantine object to the day's accounting.
	var quarantine *archiver.ObjectRef
	if err := (ledger.Ledger{Store: store}).Accountings(ctx, mustDay(t, sample), func(a *archiver.StoredAccounting) error {
		quarantine = a.Quarantine
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if quarantine == nil || quarantine.VersionID == "" {
		t.Fatalf("the sample day's quarantine ref carries no version: %+v", quarantine)
	}
	orig := getObject(t, c, bucket, objKey)

	// The second version: same size, other bytes, the original's sha256 metadata.
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(objKey), Body: bytes.NewReader(flipByte(orig)),
		Metadata: head.Metadata,
	}); err != nil {
		t.Fatalf("PutObject (a second version): %v", err)
	}
	if cur := getObject(t, c, bucket, objKey); bytes.Equal(cur, orig) {
		t.Fatal("the second version did not replace the current view")
	}

	for _, coding := range []string{"identity", "gzip"} {
		resp, body, err := fetch(t, client, f, "Accept-Encoding", coding)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %+v", coding, err, resp)
		}
		want := golden
		if coding == "gzip" {
			want = orig
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("%s: the API served other bytes than the manifest's version", coding)
		}
	}

	resp, b, err := fetchBody(t, f, `{"date":"`+sample+`","delivery":"url"}`)
	var d httpapi.URLDelivery
	if err != nil || resp.StatusCode != 200 || json.Unmarshal(b, &d) != nil {
		t.Fatalf("url delivery: %v %s", err, b)
	}
	if !strings.Contains(d.URL, "versionId="+m.Data.VersionID) || d.VersionID != m.Data.VersionID {
		t.Errorf("the presigned URL is not pinned to the manifest's version %s: %s (versionId %q)", m.Data.VersionID, d.URL, d.VersionID)
	}
	got, err := http.Get(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	fromURL, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || got.StatusCode != 200 {
		t.Fatalf("GET presigned URL: %d %v", got.StatusCode, err)
	}
	if sum := sha256.Sum256(fromURL); hex.EncodeToString(sum[:]) != m.Data.SHA256 {
		t.Fatalf("the presigned URL served bytes hashing to %x, the manifest says %s", sum, m.Data.SHA256)
	}

	id, err := engine.Create(ctx, acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := engine.Execute(ctx, acme, id); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("export task over the replaced day: %v %+v", err, st)
	}

	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Org: acme, Audit: audit.Verifier{}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		if strings.Contains(p, m.Data.Key) && strings.Contains(p, "current version") && strings.Contains(p, m.Data.VersionID) {
			found = true
		}
	}
	if !found {
		t.Fatalf("verify does not report that the current version is not the manifest's: %q", rep.Problems)
	}
	reliability.Record(t, "security", "second version put under an export's key in a versioned bucket (S3 write access)", reliability.Refused,
		"the manifest's versionId is what the API, presigned URLs and export tasks read; verify reports the key's other current version")
}

func getObject(t *testing.T, c *awss3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fetchBody posts an export request with body as acme.
func fetchBody(t *testing.T, f *fixture, body string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// TestS3ReplacedManifestVersionNotServed: on an unsigned archive in a versioned bucket,
// someone with the bucket's credentials puts a second version over a day's manifest
// (r0001.json), naming a data object of their own. Nothing signs the manifest, but the
// key's first version is the one the seal created (every object is created once): the API
// reads that one, and serves the sealed day, never the replacement's records.
func TestS3ReplacedManifestVersionNotServed(t *testing.T) {
	ctx := context.Background()
	store, c, bucket := lockedStore(t)
	f := newFixtureOn(t, store, nil)
	golden, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ledger.Ledger{Store: store}.Latest(ctx, acme, mustDay(t, sample))
	if err != nil || m == nil {
		t.Fatalf("latest: %v %v", m, err)
	}
	// The forged export and the manifest naming it, put as a second version of r0001.json.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(forgedRecords))
	zw.Close()
	gsum, jsum := sha256.Sum256(zb.Bytes()), sha256.Sum256([]byte(forgedRecords))
	forgedKey := strings.Replace(m.Data.Key, m.Data.SHA256, hex.EncodeToString(gsum[:]), 1)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(store.ObjectKey(forgedKey)),
		Body: bytes.NewReader(zb.Bytes())}); err != nil {
		t.Fatal(err)
	}
	fm := *m.Manifest
	fm.Data.Key, fm.Data.Size, fm.Data.SHA256, fm.Data.VersionID = forgedKey, int64(zb.Len()), hex.EncodeToString(gsum[:]), ""
	fm.Data.JSONLSize, fm.Data.JSONLSHA256, fm.Data.Records = int64(len(forgedRecords)), hex.EncodeToString(jsum[:]), 1
	b, _ := json.MarshalIndent(&fm, "", "  ")
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(store.ObjectKey(m.Key)),
		Body: bytes.NewReader(append(b, '\n'))}); err != nil {
		t.Fatal(err)
	}
	resp, body := f.export(t, f.tokens["acme"], date(sample))
	if resp.StatusCode != 200 || !bytes.Equal(body, golden) {
		t.Fatalf("after a second version of the manifest: %d, %d bytes, forged records served: %v",
			resp.StatusCode, len(body), strings.Contains(string(body), "m-forged"))
	}
	reliability.Record(t, "security", "unsigned day manifest replaced by a second version (S3)", reliability.Kept,
		"the API reads the manifest's first version, the one the seal created, and serves the sealed day")
}

// lockedStore is a store under prefix cv of a new Object Lock bucket (versioned) on a
// MinIO started for the test, with the bucket's client and name, for tests that write
// under the store's back.
func lockedStore(t *testing.T) (*s3.Store, *awss3.Client, string) {
	t.Helper()
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, true)
	c := srv.Client()
	store, err := s3.NewStore(context.Background(), c, bucket, "cv", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return store, c, bucket
}
