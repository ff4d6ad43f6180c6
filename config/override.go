package config

import (
	"fmt"
	"os"
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
