package kubernetes

import (
	"crypto/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestDeploymentStarts starts the Deployment's container as the pod would run it: the
// Deployment's arguments, the ConfigMap's configuration and the container's environment,
// the Secret made with the commands of chatvault.yaml's header (chatvault keys generate,
// 32 random bytes, chatvault token create) and mounted as the volume's items with the mode
// the kubelet gives them (0400, group-readable through fsGroup: 0440), and the event log
// and archive buckets the ConfigMap names on a MinIO (Object Lock on the archive). Only the
// mount points move under a temporary folder, and the listen addresses and the S3 endpoint
// are the test's. serve must become ready (/readyz 200) and stop cleanly on SIGTERM.
func TestDeploymentStarts(t *testing.T) {
	m := decodeAll(t)
	var c container
	for _, cc := range chatvaultContainers(t, m) {
		if cc.role == "serve" {
			c = cc
		}
	}
	if c.role == "" {
		t.Fatal("no Deployment runs serve")
	}
	srv := miniotest.Start(t)
	bin := buildChatvault(t)
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }

	// The pod's file system: the config and the Secret at their mount points.
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
	secret := makeSecret(t, bin)
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

	// The buckets the ConfigMap names.
	cfg := loadConfig(t, m, c) // also sets the container's environment
	for _, loc := range []struct {
		url  string
		lock bool
	}{{cfg.EventLog, false}, {cfg.Store, true}} {
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(loc.url, "s3://"), "/")
		if !strings.HasPrefix(loc.url, "s3://") {
			t.Fatalf("%s: the example keeps the event log and the store on S3", loc.url)
		}
		if _, err := srv.Client().CreateBucket(t.Context(), &awss3.CreateBucketInput{
			Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(loc.lock),
		}); err != nil {
			t.Fatal(err)
		}
		if !loc.lock {
			srv.Upload(t, bucket, prefix, "../../testdata/eventlog")
		}
	}

	addr, metrics := freeAddr(t), freeAddr(t)
	args := slices.Clone(c.c.Args)
	args[slices.Index(args, "--config")+1] = config
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"CHATVAULT_S3_ENDPOINT="+srv.Endpoint, "CHATVAULT_S3_PATHSTYLE=true", "CHATVAULT_S3_REGION="+miniotest.Region,
		"AWS_ACCESS_KEY_ID="+miniotest.AccessKey, "AWS_SECRET_ACCESS_KEY="+miniotest.SecretKey,
		"CHATVAULT_HTTP_ADDR="+addr, "CHATVAULT_HTTP_METRICSADDR="+metrics,
	)
	out := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.After(time.Minute)
	for ready := false; !ready; {
		select {
		case err := <-exited:
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
	if err := <-exited; err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, out)
	}
	reliability.Record(t, "operations", "Kubernetes Deployment started as shipped", reliability.Kept,
		"serve with the manifest's arguments, ConfigMap and environment and the Secret made as documented becomes ready on MinIO and stops cleanly on SIGTERM; the shipped Secret's signing.pem: \"\" made it exit 1 (no PEM block), and with the event log on S3 it was never ready (it stat'ed s3://…/directory.json as a local file)")
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
