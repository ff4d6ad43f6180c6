package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/viper"
)

// Override is a key the configuration file sets that an environment variable overrides
// with another value. The environment wins, as documented; commands log each one, because
// a variable set where the operator does not look (a systemd unit's Environment=, a
// container's env) otherwise makes the file's value vanish without a word.
type Override struct {
	Key  string // the key's path, such as http.metricsAddr
	File string // the configuration file
	Env  string // the variable, such as CHATVAULT_HTTP_METRICSADDR
}

// overrides returns the keys fileV (the file alone) sets to something else than their
// environment variable does.
func overrides(file string, fileV *viper.Viper) []Override {
	if fileV == nil {
		return nil
	}
	var out []Override
	for _, k := range keys {
		env := EnvVar(k.path)
		s := os.Getenv(env)
		if s == "" || !fileV.IsSet(k.path) {
			continue
		}
		if fileValue(fileV.Get(k.path)) == strings.TrimSpace(s) {
			continue
		}
		out = append(out, Override{Key: k.path, File: file, Env: env})
	}
	return out
}

// fileValue spells a value of the file as its environment variable would.
func fileValue(v any) string {
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

// EnvTypo is a CHATVAULT_ environment variable that is no key's but close to one's: it
// sets nothing, and commands log it with the variable it was probably meant to be.
type EnvTypo struct {
	Var   string // as set, such as CHATVAULT_HTTP_METRICS_ADDR
	Meant string // such as CHATVAULT_HTTP_METRICSADDR
}

// envTypos returns the CHATVAULT_ variables of the environment that are no key's (nor
// CHATVAULT_CONFIG) but close to a key's: the same letters with other underscores, two
// edits away, or a key's variable without its section (CHATVAULT_SORTMEMORY). Variables
// far from every key, such as test tooling's, are no concern of the configuration.
func envTypos() []EnvTypo {
	known := map[string]bool{ConfigEnv: true}
	for _, k := range keys {
		known[EnvVar(k.path)] = true
	}
	squash := func(s string) string { return strings.ReplaceAll(strings.TrimPrefix(s, EnvPrefix), "_", "") }
	var out []EnvTypo
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] {
			continue
		}
		v := squash(strings.ToUpper(name))
		best, bestDist := "", 3
		for _, k := range keys {
			kv := squash(EnvVar(k.path))
			d := editDistance(v, kv)
			if len(v) >= 6 && strings.HasSuffix(kv, v) {
				d = min(d, 1) // the key's variable without its section
			}
			if d < bestDist {
				best, bestDist = EnvVar(k.path), d
			}
		}
		if best != "" {
			out = append(out, EnvTypo{Var: name, Meant: best})
		}
	}
	slices.SortFunc(out, func(a, b EnvTypo) int { return strings.Compare(a.Var, b.Var) })
	return out
}

// defaulted returns the locations (eventlog, store) that a configuration file was given
// for but that neither it, the environment nor a flag sets: they fall back to the sample
// event log and ./archive, which suit a checkout, not a deployment.
func defaulted(file string, sources map[string]string) []string {
	if file == "" {
		return nil
	}
	var out []string
	for _, k := range []string{"eventlog", "store"} {
		if sources[k] == "" {
			out = append(out, k)
		}
	}
	return out
}
