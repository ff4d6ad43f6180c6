package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/internal/miniotest"
)

// s3Env points the S3 client of the commands at srv through the standard AWS variables,
// and keeps the developer's AWS files out of the test.
func s3Env(t *testing.T, srv *miniotest.Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", miniotest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", miniotest.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("CHATVAULT_S3_ENDPOINT", srv.Endpoint)
	t.Setenv("CHATVAULT_S3_PATHSTYLE", "true")
	// The smallest part size, so large exports go as multipart uploads.
	t.Setenv("CHATVAULT_S3_PARTSIZE", "5MiB")
	// Retries back off up to 1ms, not 20s: fault tests count attempts, they do not wait.
	t.Setenv("CHATVAULT_S3_MAXBACKOFF", "1ms")
}

// TestS3SealMatchesFolder seals one generated day from an event log in S3 into a locked
// bucket and into a folder, and checks that the exports are identical, that verify passes,
// and, object by object with the SDK, that S3 holds each one locked in COMPLIANCE mode until
// the day's end plus its organization's retention, with a SHA-256 checksum, undeletable.
func TestS3SealMatchesFolder(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	const day = "2026-11-22"
	log := t.TempDir()
	if code, out, errOut := reference(t, "gen", "--date", day, "--events", "40000", "--orgs", "6", "--bad", "20",
		"--files", "3", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "prod/events", log)
	archive := srv.Bucket(t, true)
	folder := t.TempDir()

	s3Args := []string{"--eventlog", "s3://" + events + "/prod/events", "--store", "s3://" + archive + "/chatvault", "--log-format", "json"}
	fsArgs := []string{"--eventlog", log, "--store", folder, "--log-format", "json"}
	// The S3 run is the one under test, in-process under the race detector; the folder's
	// is what it is compared with.
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, s3Args...)...); code != exitQuarantined {
		t.Fatalf("run %v: exit %d, want %d\n%s%s", s3Args, code, exitQuarantined, out, errOut)
	}
	if code, out, errOut := reference(t, append([]string{"run", "--date", day}, fsArgs...)...); code != exitQuarantined {
		t.Fatalf("run %v: exit %d, want %d\n%s%s", fsArgs, code, exitQuarantined, out, errOut)
	}
	// A rerun against S3 is a no-op success: exit 0, nothing new was quarantined.
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", day}, s3Args...)...); code != exitOK {
		t.Fatalf("rerun: exit %d\n%s", code, errOut)
	}

	var dir struct {
		Organizations []struct {
			ID            string `json:"id"`
			Archival      bool   `json:"archival"`
			RetentionDays int    `json:"retentionDays"`
		} `json:"organizations"`
	}
	b, err := os.ReadFile(filepath.Join(log, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dir); err != nil {
		t.Fatal(err)
	}
	exported := 0
	for _, o := range dir.Organizations {
		code, fromFolder, errOut := reference(t, append([]string{"export", "--org", o.ID, "--date", day}, fsArgs...)...)
		code3, fromS3, errOut3 := chatvault(t, append([]string{"export", "--org", o.ID, "--date", day}, s3Args...)...)
		if code != code3 || fromFolder != fromS3 {
			t.Errorf("org %s: folder export (exit %d, %d bytes, %s) differs from the S3 export (exit %d, %d bytes, %s)",
				o.ID, code, len(fromFolder), errOut, code3, len(fromS3), errOut3)
		}
		if code == exitOK && fromS3 != "" {
			exported++
		}
	}
	if exported == 0 {
		t.Fatal("no organization exported anything; the comparison proved nothing")
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, s3Args...)...); code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify on S3: exit %d\n%s%s", code, out, errOut)
	}

	// Every object, read back with the SDK.
	end := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	retain := map[string]time.Time{}
	var longest time.Time
	for _, o := range dir.Organizations {
		if o.RetentionDays > 0 {
			retain[o.ID] = end.AddDate(0, 0, o.RetentionDays)
		}
	}
	c := srv.Client()
	objects := 0
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String("chatvault/")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range page.Contents {
			objects++
			key := aws.ToString(obj.Key)
			rel := strings.TrimPrefix(key, "chatvault/")
			var want time.Time
			switch {
			case strings.HasPrefix(rel, "orgs/"):
				org, _, _ := strings.Cut(strings.TrimPrefix(rel, "orgs/"), "/")
				want = retain[org]
				if want.After(longest) {
					longest = want
				}
			case strings.HasPrefix(rel, "quarantine/"), strings.HasPrefix(rel, "accounting/"):
				want = time.Time{} // checked below: the longest retention of the day's orgs
			default:
				t.Errorf("unexpected object %s", key)
				continue
			}
			head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{
				Bucket: aws.String(archive), Key: obj.Key, ChecksumMode: types.ChecksumModeEnabled,
			})
			if err != nil {
				t.Fatalf("HeadObject %s: %v", key, err)
			}
			got := aws.ToTime(head.ObjectLockRetainUntilDate)
			if strings.HasPrefix(rel, "quarantine/") || strings.HasPrefix(rel, "accounting/") {
				defer func() {
					if !got.Equal(longest) {
						t.Errorf("%s: retain until %s, want the longest retention %s", key, got, longest)
					}
				}()
			} else if !got.Equal(want) {
				t.Errorf("%s: retain until %s, want %s", key, got, want)
			}
			if head.ObjectLockMode != types.ObjectLockModeCompliance {
				t.Errorf("%s: lock mode %q, want COMPLIANCE", key, head.ObjectLockMode)
			}
			// The stored bytes hash to the SHA-256 the store recorded, which S3 checked on
			// upload: in its own checksum for a single request, per part for multipart.
			sum := readSum(t, c, archive, key)
			if got := head.Metadata["sha256"]; got != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: metadata sha256 %q, stored bytes hash to %x", key, got, sum)
			}
			cs := aws.ToString(head.ChecksumSHA256)
			switch {
			case cs == "":
				t.Errorf("%s: no SHA-256 checksum", key)
			case !strings.Contains(cs, "-") && cs != base64.StdEncoding.EncodeToString(sum[:]):
				t.Errorf("%s: checksum %s does not match the stored bytes %x", key, cs, sum)
			}
			if _, err := c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{
				Bucket: aws.String(archive), Key: obj.Key, VersionId: head.VersionId,
			}); err == nil {
				t.Errorf("%s: deleting the locked version succeeded", key)
			}
		}
	}
	t.Logf("%d organizations exported; %d objects checked, the quarantine kept until %s", exported, objects, longest)
	if objects < 3 {
		t.Fatalf("the archive holds %d objects, want data, manifests and quarantine", objects)
	}

	t.Run("hold", func(t *testing.T) { testHold(t, c, archive, s3Args, fsArgs, day, dir.Organizations[0].ID) })
	t.Run("verify finds deletes and replacements", func(t *testing.T) { testVerifyVersions(t, c, archive, s3Args) })
}

func testHold(t *testing.T, c *awss3.Client, bucket string, s3Args, fsArgs []string, day, org string) {
	holds := func() map[string]bool {
		got := map[string]bool{}
		p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("chatvault/")})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				got[strings.TrimPrefix(aws.ToString(o.Key), "chatvault/")] = head.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn
			}
		}
		return got
	}
	code, out, errOut := chatvault(t, append([]string{"hold", "--org", org, "--matter", "case-1", "--date", day, "--on"}, s3Args...)...)
	if code != exitOK {
		t.Fatalf("hold --on: exit %d\n%s%s", code, out, errOut)
	}
	held := 0
	for key, on := range holds() {
		// The org's day folder and chain, and the day's shared quarantine and accounting.
		mine := strings.HasPrefix(key, "orgs/"+org+"/") || strings.HasPrefix(key, "quarantine/") || strings.HasPrefix(key, "accounting/")
		if on != mine {
			t.Errorf("%s: legal hold %v, want %v", key, on, mine)
		}
		if on {
			held++
		}
	}
	if !strings.Contains(out, fmt.Sprintf("placed on %d objects", held)) || held < 3 {
		t.Errorf("hold says %q; %d objects are held", out, held)
	}
	if code, _, errOut := chatvault(t, append([]string{"hold", "--org", org, "--matter", "case-1", "--date", day, "--off"}, s3Args...)...); code != exitOK {
		t.Fatalf("hold --off: exit %d\n%s", code, errOut)
	}
	for key, on := range holds() {
		if on {
			t.Errorf("%s: legal hold still on after --off", key)
		}
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{append([]string{"hold", "--org", org, "--matter", "m", "--date", day, "--on"}, fsArgs...), exitFailure, "does not lock objects"},
		{append([]string{"hold", "--org", org, "--matter", "m", "--date", day}, s3Args...), exitUsage, "exactly one of --on and --off"},
		{append([]string{"hold", "--matter", "m", "--date", day, "--on"}, s3Args...), exitUsage, "--org is required"},
		{append([]string{"hold", "--org", org, "--date", day, "--on"}, s3Args...), exitUsage, "--matter is required"},
		{append([]string{"hold", "--org", org, "--matter", "a/b", "--date", day, "--on"}, s3Args...), exitUsage, "only letters"},
		{append([]string{"hold", "--org", org, "--matter", "never", "--date", day, "--off"}, s3Args...), exitFailure, "no hold for matter"},
	} {
		if code, _, errOut := chatvault(t, tt.args...); code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

// testVerifyVersions deletes one object (a delete marker: Object Lock keeps the locked
// version but not the current view) and replaces another (a second version), as someone
// with write access could, and checks that verify reports both.
func testVerifyVersions(t *testing.T, c *awss3.Client, bucket string, s3Args []string) {
	var manifest, data string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("chatvault/orgs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			// Another organization's manifest than the data's: verify must still read the
			// data's manifest to tell that its version is gone.
			switch {
			case data == "" && strings.Contains(k, "/events-"):
				data = k
			case manifest == "" && data != "" && strings.Contains(k, "/manifests/") && !strings.HasPrefix(k, data[:strings.Index(data, "/days/")]):
				manifest = k
			}
		}
	}
	if _, err := c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(data)}); err != nil {
		t.Fatalf("DeleteObject (a delete marker): %v", err)
	}
	if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(manifest), Body: strings.NewReader("{}"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatalf("PutObject (a second version): %v", err)
	}
	code, out, errOut := chatvault(t, append([]string{"verify"}, s3Args...)...)
	if code != exitFailure {
		t.Fatalf("verify after tampering: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	for _, want := range []string{
		strings.TrimPrefix(data, "chatvault/") + ": delete marker",
		strings.TrimPrefix(manifest, "chatvault/") + ": 2 versions",
		// The manifest names the version sealed (issue 10.6); the current one is gone.
		strings.TrimPrefix(data, "chatvault/") + ": current version is missing or a delete marker, the manifest's is ",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("verify does not report %q:\n%s", want, errOut)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func readSum(t *testing.T, c *awss3.Client, bucket, key string) [sha256.Size]byte {
	t.Helper()
	out, err := c.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}
