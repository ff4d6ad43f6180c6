package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3Faults seals a day through a fault-injecting proxy. A persistent fault (every
// upload answered 503) fails the run with S3's error, commits no manifest and leaves no
// multipart upload behind; with transient faults (503s, slow answers, connections cut
// mid-body) the rerun seals the day, byte for byte as the folder store does.
func TestS3Faults(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	pinLayout2(t)
	proxy := srv.NewFaultProxy(t)
	s3Env(t, srv)
	t.Setenv("CHATVAULT_S3_ENDPOINT", proxy.URL)
	const day = faultDay
	archive, s3Args, fsArgs := sealFaultDayInFolder(t, srv)

	multipart := 0
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		if !strings.HasPrefix(r.URL.Path, "/"+archive+"/") {
			return miniotest.Pass
		}
		if r.Method == http.MethodPost && r.URL.Query().Has("uploads") {
			multipart++
		}
		if r.Method == http.MethodPut {
			return miniotest.Unavailable
		}
		return miniotest.Pass
	})
	code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, s3Args...)...)
	if code != exitFailure || !strings.Contains(out+errOut, "StatusCode: 503") {
		t.Fatalf("run under a persistent fault: exit %d, want %d and S3's 503\n%s%s", code, exitFailure, out, errOut)
	}
	proxy.SetFaults(nil)
	if multipart == 0 {
		t.Error("no multipart upload was started; the test cannot show that none is left")
	}
	c := srv.Client()
	uploads, err := c.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(archive)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range uploads.Uploads {
		t.Errorf("multipart upload left behind: %s", aws.ToString(u.Key))
	}
	objs, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Contents {
		if strings.Contains(aws.ToString(o.Key), "/manifests/") {
			t.Errorf("manifest committed by the failed run: %s", aws.ToString(o.Key))
		}
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "S3 store: every upload answered 503", reliability.CleanFailure,
			"exit 1 with S3's 503; no manifest committed, no multipart upload left; the next run seals the day")
	}

	// Transient faults: every third request fails in turn with a 503, a slow answer or a
	// cut connection; the SDK retries requests and downloads resume.
	n := 0
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		n++
		if n%3 != 0 {
			return miniotest.Pass
		}
		return []miniotest.Fault{miniotest.Unavailable, miniotest.Slow, miniotest.Cut}[(n/3)%3]
	})
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, s3Args...)...); code != exitOK {
		t.Fatalf("rerun under transient faults: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []miniotest.Fault{miniotest.Unavailable, miniotest.Slow, miniotest.Cut} {
		if proxy.Count(f) == 0 {
			t.Errorf("no request got fault %s", f)
		}
	}
	proxy.SetFaults(nil)
	sameExportsAndVerified(t, s3Args, fsArgs)
	if !t.Failed() {
		reliability.Record(t, "fault", "S3 store: transient 503s, slow answers, connections cut mid-body", reliability.Recovered,
			"the SDK retries and downloads resume; the day seals byte-identical to the folder store; verify passes")
	}
}

// faultDay is the day the fault tests seal.
const faultDay = "2026-11-22"

// sealFaultDayInFolder generates faultDay with enough events for one export above the
// 5MiB part size (a multipart upload), uploads it as an S3 event log, seals it into a
// folder store to compare with (both with the reference binary), and returns a new Object Lock bucket for the archive, the
// arguments of a run from the S3 event log into it and those of the folder's.
func sealFaultDayInFolder(t *testing.T, srv *miniotest.Server) (archive string, s3Args, fsArgs []string) {
	t.Helper()
	log := t.TempDir()
	if code, out, errOut := reference(t, "gen", "--date", faultDay, "--events", "80000", "--orgs", "2", "--files", "2", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "log", log)
	archive = srv.Bucket(t, true)
	s3Args = []string{"--eventlog", "s3://" + events + "/log", "--store", "s3://" + archive + "/cv", "--log-format", "json"}
	fsArgs = []string{"--eventlog", log, "--store", t.TempDir(), "--log-format", "json"}
	if code, out, errOut := reference(t, append([]string{"run", "--date", faultDay}, fsArgs...)...); code != exitOK {
		t.Fatalf("run on the folder: exit %d\n%s%s", code, out, errOut)
	}
	return archive, s3Args, fsArgs
}

// sameExportsAndVerified checks that every organization's export of faultDay reads the
// same from the S3 archive as from the folder store (sealFaultDayInFolder's arguments),
// and that verify passes on the S3 archive.
func sameExportsAndVerified(t *testing.T, s3Args, fsArgs []string) {
	t.Helper()
	var dir struct {
		Organizations []struct{ ID string } `json:"organizations"`
	}
	readJSON(t, fsArgs[1]+"/directory.json", &dir) // fsArgs: --eventlog LOG ...
	for _, o := range dir.Organizations {
		code, want, _ := reference(t, append([]string{"export", "--org", o.ID, "--date", faultDay}, fsArgs...)...)
		code3, got, errOut := chatvault(t, append([]string{"export", "--org", o.ID, "--date", faultDay}, s3Args...)...)
		if code != code3 || got != want {
			t.Errorf("org %s: S3 export (exit %d, %d bytes, %s) differs from the folder's (exit %d, %d bytes)",
				o.ID, code3, len(got), errOut, code, len(want))
		}
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, s3Args...)...); code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
}
