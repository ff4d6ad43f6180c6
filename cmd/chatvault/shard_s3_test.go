package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// shardProc is one chatvault process of a sharded seal.
type shardProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// startShards starts chatvault (the crashpoint build, without the race detector) once per
// args, all at once, with env added; wait returns each one's exit code, killed (-1) or not,
// and its CPU time (user + system).
func startShards(t *testing.T, env []string, args ...[]string) []*shardProc {
	t.Helper()
	var procs []*shardProc
	for _, a := range args {
		p := &shardProc{cmd: exec.Command(crashpointBinary(t), a...)}
		p.cmd.Env = append(os.Environ(), env...)
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	return procs
}

func (p *shardProc) wait() (code int, cpu time.Duration) {
	err := p.cmd.Wait()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		return -2, 0
	}
	st := p.cmd.ProcessState
	return st.ExitCode(), st.UserTime() + st.SystemTime()
}

// bucketObjects lists bucket's objects under prefix, by key relative to prefix, with
// their ETag and size (MinIO's ETag of a single-part upload is its MD5).
func bucketObjects(t *testing.T, c *awss3.Client, bucket, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out[strings.TrimPrefix(aws.ToString(o.Key), prefix)] = fmt.Sprintf("%s %d", aws.ToString(o.ETag), aws.ToInt64(o.Size))
		}
	}
	return out
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

// sameOrgObjects fails t unless bucket holds under prefix+"orgs/" the objects want does,
// with the same bytes (ETags and sizes, and every manifest's bytes read back).
func sameOrgObjects(t *testing.T, c *awss3.Client, wantBucket, bucket, prefix string) int {
	t.Helper()
	want := bucketObjects(t, c, wantBucket, prefix+"orgs/")
	got := bucketObjects(t, c, bucket, prefix+"orgs/")
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d objects under orgs/, the unsharded run has %d", len(got), len(want))
	}
	manifests := 0
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("orgs/%s: %q, the unsharded run's %q", k, got[k], v)
		}
		if strings.Contains(k, "/manifests/") { // the chains; ETags cover the rest
			manifests++
			if !bytes.Equal(getObject(t, c, bucket, prefix+"orgs/"+k), getObject(t, c, wantBucket, prefix+"orgs/"+k)) {
				t.Fatalf("manifest orgs/%s differs from the unsharded run's", k)
			}
		}
	}
	if manifests == 0 {
		t.Fatal("no manifest compared")
	}
	return len(want)
}

// TestShardsOnMinIO seals a generated day of 1,000 organizations into one MinIO bucket
// with one unsharded process, then with 4 shard processes at once into another: every
// object under orgs/ is byte-identical and verify passes. Then again with shard 2 killed
// after its fifth manifest: verify fails naming shard 2, the shard's rerun completes the
// day, which is byte-identical again, and verify passes.
func TestShardsOnMinIO(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	const day, n = "2026-11-22", 4
	log := t.TempDir()
	// The heavy commands run in processes of the build without the race detector.
	if code, out, errOut := binary(t, nil, "gen", "--date", day, "--events", "60000", "--orgs", "1000", "--bad", "40",
		"--files", "4", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	env := []string{"CHATVAULT_TEST_NOW=2026-11-23T00:30:00Z"}
	args := func(bucket string, extra ...string) []string {
		return append([]string{"run", "--date", day, "--eventlog", log, "--store", "s3://" + bucket + "/cv", "--log-format", "json"}, extra...)
	}
	c := srv.Client()

	whole := srv.Bucket(t, false) // unversioned: manifests name no version id, so they can match
	p := startShards(t, env, args(whole))[0]
	if code, cpu := p.wait(); code != exitQuarantined {
		t.Fatalf("unsharded run: exit %d\n%s%s", code, p.stdout.String(), p.stderr.String())
	} else {
		t.Logf("unsharded: %.2f CPU seconds", cpu.Seconds())
	}

	sharded := srv.Bucket(t, false)
	var all [][]string
	for i := range n {
		all = append(all, args(sharded, "--shard", fmt.Sprintf("%d/%d", i, n)))
	}
	for i, p := range startShards(t, env, all...) {
		code, cpu := p.wait()
		if code != exitOK && code != exitQuarantined {
			t.Fatalf("shard %d/%d: exit %d\n%s%s", i, n, code, p.stdout.String(), p.stderr.String())
		}
		t.Logf("shard %d/%d: %.2f CPU seconds", i, n, cpu.Seconds())
	}
	objects := sameOrgObjects(t, c, whole, sharded, "cv/")
	if accounting := bucketObjects(t, c, sharded, "cv/accounting/"); len(accounting) != n {
		t.Fatalf("%d accounting objects, want one per shard (%d)", len(accounting), n)
	}
	if code, out, errOut := binary(t, nil, "verify", "--eventlog", log, "--store", "s3://"+sharded+"/cv"); code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}

	// A shard's pod dies; Kubernetes (here the test) runs it again.
	failed := srv.Bucket(t, false)
	all = all[:0]
	for i := range n {
		all = append(all, args(failed, "--shard", fmt.Sprintf("%d/%d", i, n)))
	}
	procs := startShards(t, env, all[:2]...)
	procs = append(procs, startShards(t, append(env, "CHATVAULT_CRASH_AT=commit.chain:5"), all[2])...)
	procs = append(procs, startShards(t, env, all[3])...)
	for i, p := range procs {
		code, _ := p.wait()
		killed := false
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed = true
		}
		if i == 2 && !killed {
			t.Fatalf("shard 2 was not killed: exit %d\n%s", code, p.stderr.String())
		}
		if i != 2 && code != exitOK && code != exitQuarantined {
			t.Fatalf("shard %d/%d: exit %d\n%s%s", i, n, code, p.stdout.String(), p.stderr.String())
		}
	}
	code, out, errOut := binary(t, nil, "verify", "--eventlog", log, "--store", "s3://"+failed+"/cv")
	if code == exitOK || !strings.Contains(out+errOut, "shard(s) [2]") {
		t.Fatalf("verify with shard 2 killed: exit %d, want a problem naming shard 2\n%s%s", code, out, errOut)
	}
	p = startShards(t, env, all[2])[0]
	if code, _ := p.wait(); code != exitOK && code != exitQuarantined {
		t.Fatalf("shard 2 rerun: exit %d\n%s%s", code, p.stdout.String(), p.stderr.String())
	}
	sameOrgObjects(t, c, whole, failed, "cv/")
	if code, out, errOut := binary(t, nil, "verify", "--eventlog", log, "--store", "s3://"+failed+"/cv"); code != exitOK {
		t.Fatalf("verify after the rerun: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%d objects under orgs/ compared", objects)
	reliability.Record(t, "operations", "a day of 1,000 organizations sealed by 4 `run --shard i/4` processes on one S3 store (MinIO)", reliability.Kept,
		"every object under orgs/ byte-identical to one unsharded run; verify passes")
	reliability.Record(t, "crash", "one shard process of a sharded day killed after its fifth manifest, then rerun", reliability.Recovered,
		"verify fails naming the missing shard; the shard's rerun completes the day, byte-identical to one unsharded run; verify passes")
}

// binary runs one chatvault process (the crashpoint build) and returns its exit code and
// output.
func binary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	p := startShards(t, env, args)[0]
	code, _ := p.wait()
	return code, p.stdout.String(), p.stderr.String()
}
