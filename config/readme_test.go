package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// A key as the README writes it in a code span: `section.key`, `http.tls.certFile`, or
	// with a value, `schedule.enabled: false`.
	readmeKeyRE = regexp.MustCompile("`([a-z][a-z0-9]*(?:\\.[a-z][a-zA-Z0-9]*)+)(?:[:=][^`]*)?`")
	readmeEnvRE = regexp.MustCompile(`\bCHATVAULT_[A-Z0-9_]*[A-Z0-9]`)
	// Names that look like keys but are files.
	fileSuffixes = []string{".json", ".jsonl", ".pem", ".pub", ".key", ".yaml", ".yml", ".gz", ".md", ".go", ".sh", ".txt", ".html", ".zip", ".service", ".timer", ".token", ".conf"}
)

// retiredKeys are keys the README names as history ("it replaces …"); they are no keys.
var retiredKeys = map[string]bool{"exports.maxRangeDays": true}

// TestREADMEConfigKeys: every configuration key the README (and docs/) names in a code
// span is a key Load knows, and every CHATVAULT_ variable it names is a key's variable or
// one the repository's code or scripts read (CHATVAULT_CONFIG, CHATVAULT_MINIO, …). The
// README once told operators that attachment indexes are checked "with
// signing.trustedKeys", a key that never existed (it is signing.publicKeyFile).
func TestREADMEConfigKeys(t *testing.T) {
	known, sections := map[string]bool{}, map[string]bool{}
	envs := map[string]bool{}
	for _, k := range keys {
		known[k.path] = true
		sections[strings.SplitN(k.path, ".", 2)[0]] = true
		envs[EnvVar(k.path)] = true
	}
	// Variables read elsewhere: literals in the repository's code, scripts and Makefile.
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sh") || d.Name() == "Makefile") {
			return nil
		}
		b, err := os.ReadFile(path)
		for _, v := range readmeEnvRE.FindAllString(string(b), -1) {
			envs[v] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{"../README.md"}
	_ = filepath.WalkDir("../docs", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			docs = append(docs, path)
		}
		return nil
	})
	checkedKeys := 0
	for _, path := range docs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range readmeKeyRE.FindAllStringSubmatch(text, -1) {
			k := m[1]
			if !sections[strings.SplitN(k, ".", 2)[0]] || retiredKeys[k] || hasFileSuffix(k) {
				continue
			}
			checkedKeys++
			if !known[k] {
				t.Errorf("%s names the configuration key %s, which Load does not know (closest key: %q)", path, k, suggest(k))
			}
		}
		for _, v := range readmeEnvRE.FindAllString(text, -1) {
			if !envs[v] {
				t.Errorf("%s names the variable %s: no key's (CHATVAULT_ + path upper-cased) and read nowhere in the repository", path, v)
			}
		}
	}
	if checkedKeys < 50 {
		t.Fatalf("checked only %d key names: the README's pattern changed", checkedKeys)
	}
}

func hasFileSuffix(s string) bool {
	for _, suf := range fileSuffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}
