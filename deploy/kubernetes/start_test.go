package kubernetes

import (
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestWorkloadsStart starts each workload's container as its pod would run it: its
// arguments, the ConfigMap's configuration and the container's environment, the Secret
// made with the commands of chatvault.yaml's header (chatvault keys generate, 32 random
// bytes, chatvault token create) and mounted as the volume's items with the mode the
// kubelet gives them (0400, group-readable through fsGroup: 0440), and the event log and
// archive buckets the ConfigMap names on a MinIO (Object Lock on the archive; the sample
// event log in the first). Only the mount points move under a temporary folder, and the
// listen addresses and the S3 endpoint are the test's. The Deployment's serve must become
// ready (/readyz 200) and stop cleanly on SIGTERM; the CronJob's run must seal the sample
// day (exit 3: the sample holds records to quarantine) and leave the others pending; the
// sharded seal's Indexed Job runs every index at once, each sealing its shard (runShards).
func TestWorkloadsStart(t *testing.T) {
	m := decodeAll(t)
	bin := buildChatvault(t)
	secret := makeSecret(t, bin)
	roles := map[string]bool{}
	for _, c := range chatvaultContainers(t, m) {
		roles[c.role] = true
		t.Run(c.w.name, func(t *testing.T) {
			// A MinIO each: serve's scheduler would seal the sample day before run could.
			srv := miniotest.Start(t)
			cmd, out := podCommand(t, m, c, srv, bin, secret)
			switch c.role {
			case "serve":
				startServe(t, cmd, out)
			case "run":
				if j := jobOf(m, c); j != nil {
					runShards(t, j, cmd, out) // shard_test.go
					return
				}
				err := cmd.Run()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(out.String(), "sealed 2026-11-22") {
					t.Fatalf("run: %v, want exit 3 sealing 2026-11-22\n%s", err, out)
				}
			default:
				t.Fatalf("role %q", c.role)
			}
		})
	}
	if !roles["serve"] || !roles["run"] {
		t.Fatalf("roles %v: want a Deployment running serve and a CronJob running run", roles)
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes Deployment and CronJob started as shipped", reliability.Kept,
			"serve and run with the manifests' arguments, ConfigMap and environment and the Secret made as documented: serve becomes ready on MinIO and stops cleanly on SIGTERM, run seals the sample day; the shipped Secret's signing.pem: \"\" made serve exit 1 (no PEM block), and with the event log on S3 serve was never ready (it stat'ed s3://…/directory.json as a local file)")
	}
}

// podCommand lays out the pod's file system for container c under a temporary folder (the
// config at its mount, the Secret's items at theirs), creates the buckets the
// configuration names on srv, and returns the container's command with the environment
// the pod would give it, writing its output to out.
func podCommand(t *testing.T, m *manifests, c container, srv *miniotest.Server, bin string, secret map[string][]byte) (*exec.Cmd, *lockedBuilder) {
	t.Helper()
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	vm, key, _ := mountOf(c, c.config)
	cm := m.configMaps[volume(c, vm.Name).ConfigMap.Name]
	var moves []string // one pass: a moved path (under the temporary folder) is not moved again
	for _, mnt := range c.c.VolumeMounts {
		if mnt.SubPath == "" {
			moves = append(moves, strings.TrimSuffix(mnt.MountPath, "/")+"/", at(mnt.MountPath)+"/")
			if err := os.MkdirAll(at(mnt.MountPath), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := strings.NewReplacer(moves...).Replace(cm.Data[key])
	config := at(c.config)
	if err := os.MkdirAll(filepath.Dir(config), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range c.w.pod.Volumes {
		if v.Secret == nil {
			continue
		}
		i := slices.IndexFunc(c.c.VolumeMounts, func(x corev1.VolumeMount) bool { return x.Name == v.Name })
		if i < 0 {
			continue
		}
		dir := at(c.c.VolumeMounts[i].MountPath)
		for _, it := range v.Secret.Items {
			b, ok := secret[it.Key]
			if !ok {
				t.Fatalf("the volume lists %s, which the documented commands do not make", it.Key)
			}
			if err := os.WriteFile(filepath.Join(dir, it.Path), b, 0o440); err != nil {
				t.Fatal(err)
			}
		}
	}

	cfg := loadConfig(t, m, c) // also sets the container's environment
	for _, loc := range []struct {
		url  string
		lock bool
	}{{cfg.EventLog, false}, {cfg.Store, true}} {
		if !strings.HasPrefix(loc.url, "s3://") {
			t.Fatalf("%s: the example keeps the event log and the store on S3", loc.url)
		}
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(loc.url, "s3://"), "/")
		_, err := srv.Client().CreateBucket(t.Context(), &awss3.CreateBucketInput{
			Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(loc.lock),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !loc.lock {
			srv.Upload(t, bucket, prefix, "../../testdata/eventlog")
			// And yesterday, empty and closed: a producer that delivers. The sample alone
			// has delivered nothing since 2026-11-22, which run reports as a stopped
			// producer (exit 1, TestRunCatchUpProducerStopped).
			yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
			if _, err := srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(path.Join(prefix, yesterday, "_CLOSED")), Body: strings.NewReader(""),
			}); err != nil {
				t.Fatal(err)
			}
		}
	}

	args := slices.Clone(c.c.Args)
	args[slices.Index(args, "--config")+1] = config
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"CHATVAULT_S3_ENDPOINT="+srv.Endpoint, "CHATVAULT_S3_PATHSTYLE=true", "CHATVAULT_S3_REGION="+miniotest.Region,
		"AWS_ACCESS_KEY_ID="+miniotest.AccessKey, "AWS_SECRET_ACCESS_KEY="+miniotest.SecretKey,
		"CHATVAULT_HTTP_ADDR="+freeAddr(t), "CHATVAULT_HTTP_METRICSADDR="+freeAddr(t),
	)
	out := new(lockedBuilder)
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// startServe starts serve, waits for /readyz to answer 200, and stops it with SIGTERM,
// which must end it cleanly.
func startServe(t *testing.T, cmd *exec.Cmd, out *lockedBuilder) {
	t.Helper()
	addr := envValue(cmd.Env, "CHATVAULT_HTTP_ADDR")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.After(time.Minute)
	for ready := false; !ready; {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("serve exited before it was ready: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("serve not ready after a minute\n%s", out)
		case <-time.After(50 * time.Millisecond):
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				ready = resp.StatusCode == http.StatusOK
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	stopped = true
	if err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, out)
	}
}

// envValue is the last value of name in env (the one a process sees).
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// lockedBuilder collects a process's output, written from exec's goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// makeSecret makes the Secret's keys with the commands chatvault.yaml's header gives.
func makeSecret(t *testing.T, bin string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	run := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chatvault %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(nil, "keys", "generate", "-o", "signing.pem")
	run([]string{"CHATVAULT_AUTH_TOKENSFILE=./tokens.json"}, "token", "create",
		"--org", "0a1c2e3f-0000-4000-8000-00000000aaaa", "--scope", "admin:compliance:read", "--name", "ops")
	secret := map[string][]byte{"links.key": make([]byte, 32)}
	rand.Read(secret["links.key"]) // head -c 32 /dev/urandom
	for _, k := range []string{"signing.pem", "tokens.json"} {
		b, err := os.ReadFile(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		secret[k] = b
	}
	return secret
}

// buildChatvault builds the chatvault command of the repository (the module this one
// replaces chatvault with) into a temporary folder.
func buildChatvault(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chatvault")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/chatvault")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chatvault: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
