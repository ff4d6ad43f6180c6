package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// copyBucket copies every object under prefix of src into dst under the same key, as
// `aws s3 sync s3://src/p s3://dst/p` or a restore from a backup does: plain CopyObject,
// which keeps the bytes and the user metadata but gives each object a new version id (or
// none, on a bucket without versioning) and carries no Object Lock retention or legal hold.
func copyBucket(t *testing.T, c *awss3.Client, src, dst, prefix string) int {
	t.Helper()
	n := 0
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(src), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if _, err := c.CopyObject(t.Context(), &awss3.CopyObjectInput{
				Bucket: aws.String(dst), Key: o.Key, CopySource: aws.String(src + "/" + aws.ToString(o.Key)),
			}); err != nil {
				t.Fatalf("CopyObject %s: %v", aws.ToString(o.Key), err)
			}
			n++
		}
	}
	return n
}

// TestS3ArchiveCopiedToAnotherBucket: an archive sealed on a bucket with Object Lock (so
// versioned: each manifest names the version id of every object it names) is copied to
// another bucket as an operator does with `aws s3 sync` or a backup restore, which give
// every object a new version id. Before, no sealed day of the copy could be read: export
// failed with "get object … version …: object not found", verify re-hashed no export and
// reported every one as "a newer version was put under the key", which nobody did, so an
// auditor's copy could never pass and a restored archive served nothing. Now a version
// the store does not hold at all is read at the key's own (first) version and checked by
// its hash as every reader checks it, verify says once that the manifests' versions are
// not this bucket's, and still finds an export changed in the copy.
func TestS3ArchiveCopiedToAnotherBucket(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	log := t.TempDir()
	for _, d := range []string{"2026-11-20", "2026-11-21", "2026-11-22"} {
		if code, out, errOut := chatvault(t, "gen", "--date", d, "--events", "400", "--orgs", "2", "--out", log); code != exitOK {
			t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
		}
	}
	dir := filepath.Join(log, "directory.json")
	b, err := os.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`"archivalStart":\s*"[^"]*"`).ReplaceAll(b, []byte(`"archivalStart":"2026-11-20"`))
	b = bytes.ReplaceAll(b, []byte(`"archival":false`), []byte(`"archival":true`))
	if err := os.WriteFile(dir, b, 0o644); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	signing, public := filepath.Join(keys, "signing.pem"), filepath.Join(keys, "signing.pub")
	code, pub, errOut := chatvault(t, "keys", "generate", "-o", signing)
	if code != exitOK {
		t.Fatalf("keys generate: exit %d\n%s", code, errOut)
	}
	if err := os.WriteFile(public, []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	orgs := regexp.MustCompile(`"id":"([0-9a-f-]{36})","name"`).FindAllSubmatch(b, -1)
	if len(orgs) == 0 {
		t.Fatal("no organization in the directory")
	}
	org := string(orgs[0][1])

	c := srv.Client()
	source := srv.Bucket(t, true)
	at := func(bucket string) []string {
		return []string{"--eventlog", log, "--store", "s3://" + bucket + "/cv", "--log-format", "text"}
	}
	sealed := append([]string{"run", "--from", "2026-11-20", "--to", "2026-11-21"}, at(source)...)
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", signing)
	if code, out, errOut := chatvault(t, sealed...); code != exitOK {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	_, want, _ := chatvault(t, append([]string{"export", "--org", org, "--date", "2026-11-21"}, at(source)...)...)
	if want == "" {
		t.Fatal("the source exports nothing; the comparison proves nothing")
	}
	verify := func(bucket string, flags ...string) (int, string) {
		t.Helper()
		t.Setenv("CHATVAULT_SIGNING_KEYFILE", "") // the auditor holds the public key alone
		args := append([]string{"verify", "--public-key", public}, flags...)
		code, out, errOut := chatvault(t, append(args, at(bucket)...)...)
		return code, out + errOut
	}
	// A legal hold on the first day: its objects carry it in the source.
	hold := []string{"hold", "--org", org, "--matter", "case-1", "--date", "2026-11-20", "--on"}
	if code, out, errOut := chatvault(t, append(hold, at(source)...)...); code != exitOK {
		t.Fatalf("hold --on: exit %d\n%s%s", code, out, errOut)
	}
	code, src := verify(source)
	if code != exitOK {
		t.Fatalf("verify of the source: exit %d\n%s", code, src)
	}
	bytesRead := regexp.MustCompile(`\d+ objects, \d+ bytes`).FindString(src)

	// A copy in a bucket without versioning (an auditor's, a backup's).
	plain := srv.Bucket(t, false)
	if n := copyBucket(t, c, source, plain, "cv/"); n == 0 {
		t.Fatal("nothing copied")
	}
	if code, got, errOut := chatvault(t, append([]string{"export", "--org", org, "--date", "2026-11-21"}, at(plain)...)...); code != exitOK || got != want {
		t.Errorf("export from the copy: exit %d, %d bytes (the source's %d)\n%s", code, len(got), len(want), errOut)
	}
	code, out := verify(plain)
	if code != exitOK || !strings.Contains(out, bytesRead) || strings.Contains(out, "a newer version was put") {
		t.Errorf("verify of the faithful copy: exit %d, want 0 having re-hashed what the source's did (%s)\n%s", code, bytesRead, out)
	}
	if !strings.Contains(out, "not in this store") {
		t.Errorf("verify of the copy does not say the manifests' versions are another store's:\n%s", out)
	}
	// The next day sealed into the copy continues its chains, and the copy still verifies.
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", signing)
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, at(plain)...)...); code != exitOK || !strings.Contains(out, "committed") {
		t.Fatalf("run of the next day into the copy: exit %d\n%s%s", code, out, errOut)
	}
	if code, out := verify(plain); code != exitOK {
		t.Errorf("verify of the copy after a seal into it: exit %d\n%s", code, out)
	}
	// An export changed in the copy is still found.
	var export string
	list, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(plain), Prefix: aws.String("cv/orgs/" + org + "/d/2026/11/20.events-")})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("the copy's export of 2026-11-20: %v %v", list, err)
	}
	export = aws.ToString(list.Contents[0].Key)
	if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(plain), Key: aws.String(export), Body: strings.NewReader("changed")}); err != nil {
		t.Fatal(err)
	}
	code, out = verify(plain)
	if code != exitFailure || !strings.Contains(out, strings.TrimPrefix(export, "cv/")) {
		t.Errorf("verify of the copy with a changed export: exit %d, want %d naming %s\n%s", code, exitFailure, export, out)
	}

	// A copy in a bucket with Object Lock: the copy carries no retention, which verify
	// reports, but it reads every export and accuses nobody of a newer version.
	locked := srv.Bucket(t, true)
	copyBucket(t, c, source, locked, "cv/")
	code, out = verify(locked)
	if code != exitFailure || !strings.Contains(out, `lock mode "", want COMPLIANCE`) || !strings.Contains(out, bytesRead) || strings.Contains(out, "a newer version was put") {
		t.Errorf("verify of the copy on a locking bucket: exit %d, want %d reporting the lost locks, having re-hashed %s\n%s", code, exitFailure, bytesRead, out)
	}
	// The copy's hold events say the day is held; its objects are not: reported, for the
	// held day's manifest and export, until the hold is placed again.
	lostHold := regexp.MustCompile(`orgs/` + org + `/d/2026/11/20\.[^:]*: no legal hold, though the matter\(s\) case-1`)
	if n := len(lostHold.FindAllString(out, -1)); n != 2 {
		t.Errorf("verify of the copy reports %d objects of the held day without their legal hold, want 2 (manifest, export)\n%s", n, out)
	}
	if strings.Contains(out, "11/21.r0001.json: no legal hold") {
		t.Errorf("verify reports a day no hold covers as unheld:\n%s", out)
	}
	if code, out, errOut := chatvault(t, append(hold, at(locked)...)...); code != exitOK {
		t.Fatalf("hold --on in the copy: exit %d\n%s%s", code, out, errOut)
	}
	if _, out = verify(locked); strings.Contains(out, "no legal hold") {
		t.Errorf("verify after the hold was placed again in the copy still reports it lost:\n%s", out)
	}
	// verify --extend-locks locks again what the copy lost: every object of a manifest
	// until its day's end plus the retention, as the seal locked it. Before, only members
	// objects kept too short were lengthened, and the copy failed verify until every
	// object was locked again by hand.
	// Organizations two at a time: each one's count joins the one warning.
	placed := regexp.MustCompile(`(\d+) object\(s\) had no lock or one ending too soon`)
	code, out = verify(locked, "--extend-locks", "--jobs", "2")
	if m := placed.FindStringSubmatch(out); code != exitOK || m == nil || m[1] != "10" {
		t.Errorf("verify --extend-locks of the copy: exit %d, want %d, placing the 10 locks of manifests, exports and accounting objects (the members objects' own warnings besides)\n%s", code, exitOK, out)
	}
	if code, out := verify(locked); code != exitOK || strings.Contains(out, "lock") {
		t.Errorf("verify after --extend-locks: exit %d, want %d with no lock reported\n%s", code, exitOK, out)
	}
	// A rerun finds every lock in place and places none.
	if code, out := verify(locked, "--extend-locks"); code != exitOK || placed.MatchString(out) || strings.Contains(out, "lock extended") {
		t.Errorf("verify --extend-locks rerun: exit %d, want %d placing nothing\n%s", code, exitOK, out)
	}
	reliability.Record(t, "operations", "an S3 archive copied to a bucket with Object Lock: the copy's objects carry no lock", reliability.Recovered,
		"verify reports every object's lost lock; verify --extend-locks places each as the seal did (COMPLIANCE, the day's end plus the retention) and the next verify passes; before, only members objects kept too short were lengthened and the copy failed verify until locked by hand")
	reliability.Record(t, "operations", "an S3 archive copied to another bucket (aws s3 sync, CopyObject, a backup restore: new version ids, no locks)", reliability.Kept,
		"export and verify read each object at the copy's own version, checked by its hash; verify warns once that the manifests' versions are not this store's, reports the lost locks and legal holds (until hold --on places them again), and finds an export changed in the copy; before, nothing sealed could be exported and verify called every export a newer version")
}

// TestS3FolderMarkersOfACopyTool: tools that copy a folder into a bucket or browse one as
// folders (s3fs, the S3 console's "Create folder", Cyberduck) leave an empty object named
// for each folder, "orgs/<org>/d/2026/11/". No chatvault key ends in "/" (an empty
// segment is refused), so such a marker is no object of the archive: before, verify
// reported each as "not named by any manifest" or "not an accounting object" and a
// faithful copy made with such a tool never passed. An object with bytes under such a
// key is still listed, and reported.
func TestS3FolderMarkersOfACopyTool(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	log := t.TempDir()
	if code, out, errOut := chatvault(t, "gen", "--date", "2026-11-22", "--events", "300", "--orgs", "2", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	bucket := srv.Bucket(t, false)
	args := []string{"--eventlog", log, "--store", "s3://" + bucket + "/cv", "--log-format", "text"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, args...)...); code != exitOK {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	c := srv.Client()
	folders := map[string]bool{"cv/": true}
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("cv/")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			for i := strings.IndexByte(k, '/'); i >= 0; i = strings.IndexByte(k[i+1:], '/') + i + 1 {
				folders[k[:i+1]] = true
				if strings.IndexByte(k[i+1:], '/') < 0 {
					break
				}
			}
		}
	}
	if len(folders) < 5 {
		t.Fatalf("only %d folders: %v", len(folders), folders)
	}
	for f := range folders {
		if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(f), Body: strings.NewReader("")}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := chatvault(t, append([]string{"verify"}, args...)...)
	if code != exitOK || strings.Contains(out+errOut, "PROBLEM") {
		t.Fatalf("verify with %d folder markers: exit %d, want 0\n%s%s", len(folders), code, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, args...)...); code != exitOK || !strings.Contains(out, "unchanged") {
		t.Errorf("rerun with folder markers: exit %d, want 0 and unchanged\n%s%s", code, out, errOut)
	}
	// Bytes under a folder's name are no marker: still reported.
	if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("cv/accounting/2026-11-22/"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = chatvault(t, append([]string{"verify"}, args...)...)
	if code != exitFailure || !strings.Contains(errOut, "accounting/2026-11-22/: not an accounting object") {
		t.Errorf("verify with bytes under a folder's key: exit %d, want %d reporting it\n%s%s", code, exitFailure, out, errOut)
	}
	reliability.Record(t, "operations", "an S3 archive with the empty folder markers copy tools leave (s3fs, the S3 console, Cyberduck)", reliability.Kept,
		"an empty key ending in / is no object of the archive: listings skip it, so verify passes and a rerun is unchanged; bytes under such a key are still reported; before, verify reported every marker as an object named by no manifest")
}
