package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/reliability"
)

// manifests are the decoded objects of every file in this folder, by kind.
type manifests struct {
	cronJobs   []*batchv1.CronJob
	jobs       []*batchv1.Job
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	pvcs       map[string]*corev1.PersistentVolumeClaim
	workloads  []workload
}

// workload is a pod template and what runs it.
type workload struct {
	name     string // Kind/name
	replicas int32
	grace    *int64
	pod      corev1.PodSpec
}

// decodeAll decodes every document of every *.yaml file with Kubernetes' own strict
// decoder (the one `kubectl apply --validate=strict` and the API server use): an unknown
// or duplicate field, a wrong type or an unknown kind is an error, not a silently dropped
// setting.
func decodeAll(t *testing.T) *manifests {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests (%v)", err)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for n := 1; ; n++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", file, n, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				t.Errorf("%s: document %d: %v", file, n, err)
				continue
			}
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.Secret:
				m.secrets[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				m.pvcs[o.Name] = o
			case *appsv1.Deployment:
				m.workloads = append(m.workloads, workload{"Deployment/" + o.Name, ptrOr(o.Spec.Replicas, 1), o.Spec.Template.Spec.TerminationGracePeriodSeconds, o.Spec.Template.Spec})
			case *batchv1.CronJob:
				m.cronJobs = append(m.cronJobs, o)
				p := o.Spec.JobTemplate.Spec.Template.Spec
				m.workloads = append(m.workloads, workload{"CronJob/" + o.Name, 1, p.TerminationGracePeriodSeconds, p})
			case *batchv1.Job:
				m.jobs = append(m.jobs, o)
				p := o.Spec.Template.Spec
				m.workloads = append(m.workloads, workload{"Job/" + o.Name, ptrOr(o.Spec.Parallelism, 1), p.TerminationGracePeriodSeconds, p})
			case *corev1.Service, *corev1.ServiceAccount, *networkingv1.NetworkPolicy:
			default:
				t.Errorf("%s: document %d: %s, which this test does not check", file, n, gvk)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// TestManifestsDecodeStrictly decodes the manifests (decodeAll) and expects a Deployment
// serving the API, a CronJob running `chatvault run`, and the sharded seal's Indexed Job.
func TestManifestsDecodeStrictly(t *testing.T) {
	m := decodeAll(t)
	var roles []string
	for _, w := range m.workloads {
		for _, c := range w.pod.Containers {
			if len(c.Args) > 0 {
				roles = append(roles, strings.SplitN(w.name, "/", 2)[0]+":"+c.Args[0])
			}
		}
	}
	for _, want := range []string{"Deployment:serve", "CronJob:run", "Job:run"} {
		if !slices.Contains(roles, want) {
			t.Errorf("no %s among %q", want, roles)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes manifests decoded strictly", reliability.Refused,
			"TestManifestsDecodeStrictly fails on an unknown or duplicate field, a wrong type or an unknown kind (Kubernetes' own strict decoder)")
	}
}

// container is the chatvault container of a workload, with its config file.
type container struct {
	w      workload
	c      corev1.Container
	role   string // serve or run
	config string // the --config path
}

func chatvaultContainers(t *testing.T, m *manifests) []container {
	t.Helper()
	var out []container
	for _, w := range m.workloads {
		if len(w.pod.Containers) != 1 {
			t.Fatalf("%s: %d containers, want chatvault alone", w.name, len(w.pod.Containers))
		}
		c := w.pod.Containers[0]
		i := slices.Index(c.Args, "--config")
		if len(c.Command) > 0 || len(c.Args) == 0 || i < 0 || i+1 >= len(c.Args) {
			t.Fatalf("%s: command %q args %q: want the image's entrypoint with SUBCOMMAND --config FILE", w.name, c.Command, c.Args)
		}
		out = append(out, container{w, c, c.Args[0], c.Args[i+1]})
	}
	return out
}

// mountOf returns the volume mount file lies under, and file's path inside the volume.
func mountOf(c container, file string) (corev1.VolumeMount, string, bool) {
	for _, vm := range c.c.VolumeMounts {
		if vm.SubPath != "" {
			if vm.MountPath == file {
				return vm, vm.SubPath, true
			}
			continue
		}
		if rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/"); ok {
			return vm, rel, true
		}
	}
	return corev1.VolumeMount{}, "", false
}

func volume(c container, name string) corev1.Volume {
	for _, v := range c.w.pod.Volumes {
		if v.Name == name {
			return v
		}
	}
	return corev1.Volume{}
}

// loadConfig runs chatvault's own configuration check (config.Load, what every command
// runs first) on the container's config file as the pod sees it: the ConfigMap's key, with
// the container's environment.
func loadConfig(t *testing.T, m *manifests, c container) *config.Config {
	t.Helper()
	vm, key, ok := mountOf(c, c.config)
	v := volume(c, vm.Name)
	if !ok || v.ConfigMap == nil {
		t.Fatalf("%s: --config %s is not on a ConfigMap volume", c.w.name, c.config)
	}
	cm := m.configMaps[v.ConfigMap.Name]
	if cm == nil || cm.Data[key] == "" {
		t.Fatalf("%s: ConfigMap %s has no key %s", c.w.name, v.ConfigMap.Name, key)
	}
	file := filepath.Join(t.TempDir(), "chatvault.yaml")
	if err := os.WriteFile(file, []byte(cm.Data[key]), 0o600); err != nil {
		t.Fatal(err)
	}
	harness := []string{reliability.EnvOut, "CHATVAULT_MINIO", "CHATVAULT_CHROMIUM", "CHATVAULT_VNU", "CHATVAULT_SYSTEMD_ANALYZE"}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "CHATVAULT_") && !slices.Contains(harness, name) {
			t.Setenv(name, "")
		}
	}
	for _, e := range c.c.Env {
		if e.ValueFrom == nil {
			t.Setenv(e.Name, e.Value)
		}
	}
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatalf("%s: chatvault's config check refuses ConfigMap %s's %s: %v", c.w.name, cm.Name, key, err)
	}
	return cfg
}

// TestManifestsConfig checks each chatvault container against its configuration: the
// ConfigMap's config passes chatvault's config check; every file the config names is
// mounted, the secret ones from a Secret volume (mode 0400, the keys listed, so a Secret
// without one does not mount instead of starting chatvault without it) whose shipped
// value, if the Secret is in the manifests, is not empty; the temporary folder is writable
// on a read-only root; the pod is given longer to stop than http.shutdownTimeout.
func TestManifestsConfig(t *testing.T) {
	m := decodeAll(t)
	for _, c := range chatvaultContainers(t, m) {
		t.Run(c.w.name, func(t *testing.T) {
			cfg := loadConfig(t, m, c)
			if c.role == "serve" && cfg.Auth.TokensFile == "" {
				t.Errorf("serve without auth.tokensFile refuses to start")
			}
			files := map[string]string{
				"signing.keyFile": cfg.Signing.KeyFile, "signing.publicKeyFile": cfg.Signing.PublicKeyFile,
				"exports.linkKeyFile": cfg.Exports.LinkKeyFile, "http.tls.certFile": cfg.HTTP.TLS.CertFile,
				"http.tls.keyFile": cfg.HTTP.TLS.KeyFile, "smtp.passwordFile": cfg.SMTP.PasswordFile,
			}
			if c.role == "serve" {
				files["auth.tokensFile"] = cfg.Auth.TokensFile
			}
			for key, file := range files {
				if file == "" {
					continue
				}
				vm, rel, ok := mountOf(c, file)
				if !ok {
					t.Errorf("%s %s is on no volume", key, file)
					continue
				}
				v := volume(c, vm.Name)
				if v.Secret == nil {
					continue
				}
				checkSecretFile(t, m, v.Secret, key, rel)
			}
			for _, loc := range []struct{ key, path string }{{"store", cfg.Store}, {"eventlog", cfg.EventLog}, {"directory", cfg.Directory}} {
				if loc.path == "" || strings.HasPrefix(loc.path, "s3://") {
					continue
				}
				vm, _, ok := mountOf(c, loc.path)
				if !ok || volume(c, vm.Name).PersistentVolumeClaim == nil {
					t.Errorf("%s %s is not on a persistent volume", loc.key, loc.path)
				}
			}
			tmp := cmpOr(cfg.Export.TempDir, envOf(c, "TMPDIR"), "/tmp")
			if sc := c.c.SecurityContext; sc != nil && ptrOr(sc.ReadOnlyRootFilesystem, false) {
				vm, _, ok := mountOf(c, tmp+"/x")
				if !ok || vm.ReadOnly || volume(c, vm.Name).EmptyDir == nil {
					t.Errorf("the temporary folder %s (export.tempDir, where sort runs spill) is on the read-only root: mount an emptyDir there", tmp)
				}
			}
			if c.role == "serve" {
				// serve waits shutdownTimeout, then as long again for the requests it cut,
				// then writes their access records.
				if g := ptrOr(c.w.grace, 30); 2*int64(cfg.HTTP.ShutdownTimeout.Seconds()) >= g {
					t.Errorf("terminationGracePeriodSeconds %d is not longer than twice http.shutdownTimeout %s: the access records of the requests cut at the deadline are killed with serve", g, cfg.HTTP.ShutdownTimeout)
				}
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes Secret key the configuration needs left empty", reliability.Refused,
			"TestManifestsConfig fails on a Secret value that is empty or a key not listed in the volume; the Deployment crash-looped on signing.pem: \"\" (and links.key: \"\")")
		reliability.Record(t, "operations", "Kubernetes ConfigMap's configuration", reliability.Refused,
			"TestManifestsConfig runs chatvault's config check (config.Load) on it with the container's environment, and checks every file it names is mounted")
	}
}

// checkSecretFile checks the Secret volume that provides the file key names, at rel.
func checkSecretFile(t *testing.T, m *manifests, sv *corev1.SecretVolumeSource, key, rel string) {
	t.Helper()
	if ptrOr(sv.Optional, false) {
		t.Errorf("%s: Secret %s is optional: chatvault would start without the file", key, sv.SecretName)
	}
	secretKey := rel
	if len(sv.Items) > 0 {
		i := slices.IndexFunc(sv.Items, func(it corev1.KeyToPath) bool { return it.Path == rel })
		if i < 0 {
			t.Errorf("%s: Secret volume %s has no item for %s", key, sv.SecretName, rel)
			return
		}
		secretKey = sv.Items[i].Key
		if mode := ptrOr(sv.Items[i].Mode, ptrOr(sv.DefaultMode, 0o644)); mode&0o077 != 0 {
			t.Errorf("%s: mode %#o: group and others may read it (chatvault refuses such a key)", key, mode)
		}
	} else if mode := ptrOr(sv.DefaultMode, 0o644); mode&0o077 != 0 {
		t.Errorf("%s: Secret volume %s defaultMode %#o: group and others may read it (want 0400)", key, sv.SecretName, mode)
	}
	s, shipped := m.secrets[sv.SecretName]
	switch {
	case shipped:
		if len(s.Data[secretKey]) == 0 && strings.TrimSpace(s.StringData[secretKey]) == "" {
			t.Errorf("%s: Secret %s ships %s empty: chatvault refuses to start on it", key, sv.SecretName, secretKey)
		}
	case len(sv.Items) == 0:
		t.Errorf("%s: Secret %s is made by the operator: list its keys as items of the volume, so that a Secret without %s does not mount rather than start chatvault without it", key, sv.SecretName, secretKey)
	}
}

func envOf(c container, name string) string {
	for _, e := range c.c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// TestManifestsVolumes checks that no ReadWriteOnce volume is shared by two workloads (the
// CronJob's pod cannot attach a volume the Deployment's pod holds on another node, and
// waits forever) or by the replicas of one.
func TestManifestsVolumes(t *testing.T) {
	m := decodeAll(t)
	users := map[string][]string{}
	for _, w := range m.workloads {
		for _, v := range w.pod.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			users[v.PersistentVolumeClaim.ClaimName] = append(users[v.PersistentVolumeClaim.ClaimName], w.name)
			pvc := m.pvcs[v.PersistentVolumeClaim.ClaimName]
			if pvc == nil {
				t.Errorf("%s: no PersistentVolumeClaim %s", w.name, v.PersistentVolumeClaim.ClaimName)
				continue
			}
			if once(pvc) && w.replicas > 1 {
				t.Errorf("%s: %d replicas on the ReadWriteOnce volume %s", w.name, w.replicas, pvc.Name)
			}
		}
	}
	for claim, ws := range users {
		if pvc := m.pvcs[claim]; pvc != nil && once(pvc) && len(ws) > 1 {
			t.Errorf("%s share the ReadWriteOnce volume %s: only one node can attach it", strings.Join(ws, " and "), claim)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes CronJob and Deployment on one ReadWriteOnce volume", reliability.Refused,
			"TestManifestsVolumes fails when two workloads (or replicas) share one; the shipped CronJob and Deployment shared chatvault-data (the example now keeps everything on S3)")
	}
}

func once(pvc *corev1.PersistentVolumeClaim) bool {
	return slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) || slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOncePod)
}

// TestManifestsSecurity checks that every workload runs the one image as a non-root user,
// without privilege escalation, capabilities or a writable root, under the runtime's
// default seccomp profile, and mounts every Secret volume owner-read-only.
func TestManifestsSecurity(t *testing.T) {
	m := decodeAll(t)
	images := map[string]bool{}
	for _, c := range chatvaultContainers(t, m) {
		images[c.c.Image] = true
		t.Run(c.w.name, func(t *testing.T) {
			psc := c.w.pod.SecurityContext
			if psc == nil {
				psc = &corev1.PodSecurityContext{}
			}
			csc := c.c.SecurityContext
			if csc == nil {
				csc = &corev1.SecurityContext{}
			}
			if !ptrOr(csc.RunAsNonRoot, ptrOr(psc.RunAsNonRoot, false)) || ptrOr(csc.RunAsUser, ptrOr(psc.RunAsUser, 0)) == 0 {
				t.Errorf("not runAsNonRoot with a non-zero runAsUser")
			}
			if ptrOr(csc.AllowPrivilegeEscalation, true) {
				t.Errorf("allowPrivilegeEscalation is not false")
			}
			if !ptrOr(csc.ReadOnlyRootFilesystem, false) {
				t.Errorf("readOnlyRootFilesystem is not true")
			}
			if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
				t.Errorf("capabilities: want drop [ALL] and nothing added")
			}
			seccomp := csc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("no seccompProfile RuntimeDefault")
			}
			for _, v := range c.w.pod.Volumes {
				if v.Secret != nil && ptrOr(v.Secret.DefaultMode, 0o644) != 0o400 {
					t.Errorf("Secret volume %s: defaultMode %#o, want 0400", v.Name, ptrOr(v.Secret.DefaultMode, 0o644))
				}
				// Secret files belong to root: a non-root user reads a 0400 one only through
				// the fsGroup the kubelet gives it (it becomes 0440).
				if v.Secret != nil && psc.FSGroup == nil {
					t.Errorf("Secret volume %s without a pod fsGroup: user %d cannot read its 0400 files", v.Name, ptrOr(csc.RunAsUser, ptrOr(psc.RunAsUser, 0)))
				}
			}
		})
	}
	if len(images) != 1 {
		t.Errorf("images %v: want the one image for both roles", images)
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes pods' security settings", reliability.Refused,
			"TestManifestsSecurity fails unless each pod runs the one image non-root, read-only root, no privilege escalation, capabilities dropped, seccomp RuntimeDefault, secrets 0400; the CronJob's pod had none of the container settings nor seccomp")
	}
}
