package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

const initechID = "0c1c2e3f-0000-4000-8000-00000000cccc"

// TestAuditSegmentsLockedOnS3: on a bucket with Object Lock, serve's audit segments are
// locked in COMPLIANCE mode until their day's end plus the organization's retentionDays
// (Globex: 3650), or audit.retentionDays for an organization without one (Initech), and
// verify checks them.
func TestAuditSegmentsLockedOnS3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	bucket := srv.Bucket(t, true)
	tokensPath := t.TempDir() + "/tokens.json"
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_AUDIT_RETENTIONDAYS", "30")
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + bucket + "/cv", "--log-format", "json", "--log-level", "error"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	tokens := map[string]string{}
	for _, org := range []string{globexID, initechID} {
		code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", org, "--scope", "admin:compliance:read", "--name", "t"}, common...)...)
		if code != exitOK {
			t.Fatalf("token create: %d %s", code, errOut)
		}
		tokens[org] = strings.TrimSpace(out)
	}

	addr := make(chan string, 1)
	serveHooks.listening = func(a string) { addr <- a }
	t.Cleanup(func() { serveHooks.listening = nil })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()
	url := "http://" + <-addr
	for _, org := range []string{globexID, initechID} {
		req, _ := http.NewRequest("POST", url+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22"}`))
		req.Header.Set("Authorization", "Bearer "+tokens[org])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d", code)
	}

	c := srv.Client()
	for org, days := range map[string]int{globexID: 3650, initechID: 30} {
		list, err := c.ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("cv/audit/orgs/" + org + "/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) != 1 {
			t.Fatalf("%s: %d audit segments, want 1", org, len(list.Contents))
		}
		key := aws.ToString(list.Contents[0].Key)
		ret, err := c.GetObjectRetention(context.Background(), &awss3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("%s: retention: %v", key, err)
		}
		d, err := archiver.ParseDay(strings.Split(strings.TrimPrefix(key, "cv/audit/orgs/"+org+"/"), "/")[0])
		if err != nil {
			t.Fatal(err)
		}
		want := d.End().AddDate(0, 0, days)
		if ret.Retention.Mode != types.ObjectLockRetentionModeCompliance || !aws.ToTime(ret.Retention.RetainUntilDate).Equal(want) {
			t.Errorf("%s: locked %s until %v, want COMPLIANCE until %v", key, ret.Retention.Mode, aws.ToTime(ret.Retention.RetainUntilDate), want)
		}
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	reliability.Record(t, "security", "audit segments on a bucket with Object Lock", reliability.Kept,
		"COMPLIANCE until the day's end + the organization's retentionDays (or audit.retentionDays); verify checks the locks")
}
