package kubernetes

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// expandArgs replaces $(NAME) in args with env's value, as the kubelet does with a
// container's environment (a reference to a variable not set is left as it is).
func expandArgs(args []string, env map[string]string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		for name, v := range env {
			a = strings.ReplaceAll(a, "$("+name+")", v)
		}
		out[i] = a
	}
	return out
}

// shardCount returns an Indexed Job's n: its completions, which parallelism and the
// --shard argument must repeat.
func shardCount(j *batchv1.Job) int { return int(ptrOr(j.Spec.Completions, 1)) }

// TestShardJob checks the sharded seal's Indexed Job: one pod per shard (completions =
// parallelism = the n of --shard), each pod's --shard, once the kubelet has put its
// completion index in, a valid shard (chatvault's own parser) and each index its own
// shard; a date to seal, as every shard must seal the same day; a failed pod (exit 1, a
// panic too) retried for its index alone, a usage or configuration error (exit 2) failing
// the Job at once, and
// quarantined records not failing a pod (a retry would seal nothing new).
func TestShardJob(t *testing.T) {
	m := decodeAll(t)
	if len(m.jobs) == 0 {
		t.Fatal("no Job in the manifests: want the sharded seal's Indexed Job")
	}
	for _, j := range m.jobs {
		t.Run(j.Name, func(t *testing.T) {
			spec := j.Spec
			if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
				t.Fatalf("completionMode %v, want Indexed: JOB_COMPLETION_INDEX names the shard", spec.CompletionMode)
			}
			n := shardCount(j)
			if p := ptrOr(spec.Parallelism, 1); int(p) != n {
				t.Errorf("parallelism %d, completions %d: want one pod per shard at once", p, n)
			}
			pod := spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			args := pod.Containers[0].Args
			if args[0] != "run" || !slices.Contains(args, "--date") {
				t.Errorf("args %q: want run --date D (every shard seals the same day)", args)
			}
			seen := map[archiver.Shard]bool{}
			for i := range n {
				a := expandArgs(args, map[string]string{"JOB_COMPLETION_INDEX": fmt.Sprint(i)})
				k := slices.Index(a, "--shard")
				if k < 0 || k+1 >= len(a) {
					t.Fatalf("args %q: no --shard", args)
				}
				sh, err := archiver.ParseShard(a[k+1])
				if err != nil {
					t.Fatalf("index %d: --shard %q: %v", i, a[k+1], err)
				}
				if sh.Count != n || sh.Index != i || seen[sh] {
					t.Errorf("index %d: --shard %s, want %d/%d", i, sh, i, n)
				}
				seen[sh] = true
			}
			if spec.BackoffLimitPerIndex == nil || *spec.BackoffLimitPerIndex < 1 {
				t.Errorf("backoffLimitPerIndex %v: want a failed shard retried on its own", spec.BackoffLimitPerIndex)
			}
			if pod.RestartPolicy != "Never" {
				t.Errorf("restartPolicy %q: backoffLimitPerIndex and podFailurePolicy need Never", pod.RestartPolicy)
			}
			failsOn2 := false
			if pfp := spec.PodFailurePolicy; pfp != nil {
				for _, r := range pfp.Rules {
					if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil &&
						r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(r.OnExitCodes.Values, 2) {
						failsOn2 = true
					}
				}
			}
			if !failsOn2 {
				t.Errorf("no podFailurePolicy failing the Job on exit code 2: a configuration error would be retried")
			}
			// A panic of the command exits 1 (chatvault's Main recovers it), and a failure
			// is retried for its index: the Go runtime's 2 failed the Job at once.
			if got := jobOutcome(spec, pod.Containers[0].Name, 1); got != "retried in a new pod" {
				t.Errorf("exit 1 (a failure, a panic of the command too): %s, want retried in a new pod", got)
			}
			if k := slices.Index(args, "--quarantine-exit-code"); k < 0 || args[k+1] != "0" {
				t.Errorf("args %q: without --quarantine-exit-code 0, a shard that quarantines fails its pod, which is retried for nothing", args)
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes Indexed Job sealing a day in shards (deploy/kubernetes/shard-job.yaml)", reliability.Refused,
			"TestShardJob fails unless completions = parallelism = the n of --shard \"$(JOB_COMPLETION_INDEX)/n\", each index a valid, distinct shard, retries per index, exit 2 fails the Job")
	}
}

// jobOf returns the Job whose pod c is, if it is one.
func jobOf(m *manifests, c container) *batchv1.Job {
	for _, j := range m.jobs {
		if c.w.name == "Job/"+j.Name {
			return j
		}
	}
	return nil
}

// runShards runs the Indexed Job's pods as Kubernetes would: every index at once, each
// with JOB_COMPLETION_INDEX set and put into its arguments. Each must seal the sample
// day's shard and exit 0 (quarantined records do not fail a shard's pod); then `chatvault
// verify`, with the pods' configuration, finds the day whole.
func runShards(t *testing.T, j *batchv1.Job, cmd *exec.Cmd, out *lockedBuilder) {
	t.Helper()
	n := shardCount(j)
	type result struct {
		err error
		out string
	}
	results := make([]chan result, n)
	for i := range n {
		index := fmt.Sprint(i)
		pod := exec.Command(cmd.Path, expandArgs(cmd.Args[1:], map[string]string{"JOB_COMPLETION_INDEX": index})...)
		pod.Env = append(slices.Clone(cmd.Env), "JOB_COMPLETION_INDEX="+index)
		var b strings.Builder
		pod.Stdout, pod.Stderr = &b, &b
		results[i] = make(chan result, 1)
		go func() {
			err := pod.Run()
			results[i] <- result{err, b.String()}
		}()
	}
	for i, ch := range results {
		r := <-ch
		if r.err != nil || !strings.Contains(r.out, "sealed 2026-11-22") || !strings.Contains(r.out, fmt.Sprintf("shard %d/%d", i, n)) {
			t.Errorf("pod %d: %v, want exit 0 sealing 2026-11-22 as shard %d/%d\n%s", i, r.err, i, n, r.out)
		}
	}
	if t.Failed() {
		return
	}
	config := cmd.Args[slices.Index(cmd.Args, "--config")+1]
	verify := exec.Command(cmd.Path, "verify", "--config", config)
	verify.Env = cmd.Env
	if b, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("verify after the shards: %v\n%s%s", err, b, out)
	}
}

// TestShardJobBoundedRun: a shard's pod whose run hangs (an S3 request that never answers)
// keeps renewing its shard's lease, and while a shard lease is held the scheduler (serve,
// or the CronJob's catch-up) backs off from every tick: one hung pod of the Indexed Job,
// which had no activeDeadlineSeconds, stopped the nightly seal of every organization for
// as long as it hung, and no retry of its index ran. The Job's activeDeadlineSeconds ends
// its pods (a cut seal leaves nothing half-committed, and the killed run's lease runs out)
// within the 6 hours a day's seal may take.
func TestShardJobBoundedRun(t *testing.T) {
	const maxRunTime = 6 * 3600
	m := decodeAll(t)
	for _, j := range m.jobs {
		if d := j.Spec.ActiveDeadlineSeconds; d == nil || *d <= 0 || *d > maxRunTime {
			t.Errorf("Job/%s: activeDeadlineSeconds %v: want at most %d, or one hung shard holds its lease, and the scheduler off every organization, for ever", j.Name, d, maxRunTime)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "a pod of the sharded seal's Indexed Job whose run hangs, renewing its shard's lease", reliability.Recovered,
			"TestShardJobBoundedRun: the Job's activeDeadlineSeconds (6h) ends it and its lease runs out; without it the held shard lease made the scheduler skip every tick, for every organization, for as long as the pod hung")
	}
}
