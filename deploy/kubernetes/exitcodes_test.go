package kubernetes

import (
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/chatvault/chatvault/internal/reliability"
)

// jobOutcome is what Kubernetes does with a Job whose container exits with code, as the
// Job controller decides it: with restartPolicy OnFailure the kubelet restarts the
// container in the same pod (no podFailurePolicy is allowed then); with Never the first
// podFailurePolicy rule that matches the code decides, and without one the failure counts
// toward backoffLimit and a new pod retries.
func jobOutcome(spec batchv1.JobSpec, container string, code int32) string {
	if spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		return "container restarted in its pod"
	}
	if pfp := spec.PodFailurePolicy; pfp != nil {
		for _, r := range pfp.Rules {
			oc := r.OnExitCodes
			if oc == nil || (oc.ContainerName != nil && *oc.ContainerName != container) {
				continue
			}
			in := slices.Contains(oc.Values, code)
			if (oc.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
				return string(r.Action)
			}
		}
	}
	return "retried in a new pod"
}

// TestCronJobExitCodes: what the CronJob's Job does with each of `chatvault run`'s exit
// codes. The manifest said "the Job treats 3 as a failure", but with restartPolicy
// OnFailure the kubelet restarted the container after exit 3, the rerun found the day
// sealed and exited 0, and the Job ended Complete: the quarantine showed nowhere in the
// Job's status, and a configuration error (exit 2) was restarted backoffLimit times every
// hour. Exit 2 and 3 must fail the Job at once (a rerun cannot change them); exit 1 (a
// day failed) is retried.
func TestCronJobExitCodes(t *testing.T) {
	m := decodeAll(t)
	if len(m.cronJobs) == 0 {
		t.Fatal("no CronJob in the manifests")
	}
	for _, cj := range m.cronJobs {
		spec := cj.Spec.JobTemplate.Spec
		pod := spec.Template.Spec
		if len(pod.Containers) != 1 {
			t.Fatalf("CronJob/%s: %d containers, want 1", cj.Name, len(pod.Containers))
		}
		c := pod.Containers[0]
		if spec.PodFailurePolicy != nil && pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("CronJob/%s: podFailurePolicy needs restartPolicy Never (the API refuses it with %s)", cj.Name, pod.RestartPolicy)
		}
		quarantineFails := !slices.Contains(c.Args, "--quarantine-exit-code")
		for _, want := range []struct {
			code    int32
			outcome string
			why     string
		}{
			{1, "retried in a new pod", "a day failed: the next attempt may seal it"},
			{2, string(batchv1.PodFailurePolicyActionFailJob), "usage or configuration: a retry cannot fix it"},
			{3, string(batchv1.PodFailurePolicyActionFailJob), "records quarantined: a retry seals nothing and exits 0, hiding it"},
		} {
			if want.code == 3 && !quarantineFails {
				continue
			}
			if got := jobOutcome(spec, c.Name, want.code); got != want.outcome {
				t.Errorf("CronJob/%s: exit %d: %s, want %s (%s)", cj.Name, want.code, got, want.outcome, want.why)
			}
		}
		if spec.BackoffLimit == nil || *spec.BackoffLimit < 1 {
			t.Errorf("CronJob/%s: backoffLimit %v: a failed day is not retried", cj.Name, spec.BackoffLimit)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes CronJob's run exits 3 (quarantined records) or 2 (configuration)", reliability.Refused,
			"TestCronJobExitCodes: the Job fails at once (restartPolicy Never, podFailurePolicy FailJob on 2 and 3), exit 1 is retried in a new pod; with restartPolicy OnFailure the container was restarted, the rerun exited 0 and the Job ended Complete, hiding the quarantine")
	}
}

// TestCronJobBoundedRun: with concurrencyPolicy Forbid, the CronJob starts no Job while
// one is active, and a Job without activeDeadlineSeconds is active as long as its pod
// runs: one `chatvault run` that hangs (an S3 request that never answers) stopped every
// later run, each schedule skipped, and nothing was sealed again. activeDeadlineSeconds
// ends such a Job (Failed, DeadlineExceeded; a cut seal leaves nothing half-committed) so
// that the next schedule runs; 6 hours at most, the deadline of a day's seal.
func TestCronJobBoundedRun(t *testing.T) {
	const maxRunTime = 6 * 3600
	m := decodeAll(t)
	for _, cj := range m.cronJobs {
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			continue
		}
		d := cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds
		if d == nil || *d <= 0 || *d > maxRunTime {
			t.Errorf("CronJob/%s: concurrencyPolicy Forbid with jobTemplate activeDeadlineSeconds %v: want at most %d, or one hung run blocks every later one", cj.Name, d, maxRunTime)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "a Kubernetes CronJob's `chatvault run` that hangs (concurrencyPolicy Forbid)", reliability.Recovered,
			"TestCronJobBoundedRun: the Job's activeDeadlineSeconds (6h) ends it and the next schedule runs; without it the active Job made the CronJob skip every later schedule")
	}
}
