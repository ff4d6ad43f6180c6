package config

import (
	"reflect"
	"testing"
)

// TestMisspeltEnv: an unknown key in the file is an error, but a misspelt environment
// variable (CHATVAULT_HTTP_METRICS_ADDR in a unit's Environment=, CHATVAULT_EXPORTS_SORTMEMORY
// for the export section) was ignored without a word, and its setting never took effect.
// Load reports each CHATVAULT_ variable that is no key's but close to one, with the
// variable meant; variables far from every key (the test tooling's) are left alone.
func TestMisspeltEnv(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want []EnvTypo
	}{
		{map[string]string{"CHATVAULT_HTTP_METRICS_ADDR": "0.0.0.0:9090"}, []EnvTypo{{"CHATVAULT_HTTP_METRICS_ADDR", "CHATVAULT_HTTP_METRICSADDR"}}},
		{map[string]string{"CHATVAULT_EXPORTS_SORTMEMORY": "1GiB"}, []EnvTypo{{"CHATVAULT_EXPORTS_SORTMEMORY", "CHATVAULT_EXPORT_SORTMEMORY"}}},
		{map[string]string{"CHATVAULT_SORTMEMORY": "1GiB"}, []EnvTypo{{"CHATVAULT_SORTMEMORY", "CHATVAULT_EXPORT_SORTMEMORY"}}},
		{map[string]string{"CHATVAULT_SIGNING_KEY_FILE": "/k.pem"}, []EnvTypo{{"CHATVAULT_SIGNING_KEY_FILE", "CHATVAULT_SIGNING_KEYFILE"}}},
		{map[string]string{"CHATVAULT_EXPORT_SORTMEMORY": "1GiB", "CHATVAULT_CONFIG": "", "CHATVAULT_MINIO": "/bin/minio",
			"CHATVAULT_RELIABILITY_OUT": "/tmp/r", "CHATVAULT_CHROMIUM": "/bin/chromium", "CHATVAULT_VNU": "/bin/vnu", "CHATVAULT_CRASH_AT": "x"}, nil},
	} {
		t.Run("", func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(writeFile(t, "eventlog: ./ev\nstore: ./archive\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.EnvTypos, tt.want) {
				t.Errorf("%v: %+v, want %+v", tt.env, c.EnvTypos, tt.want)
			}
		})
	}
}
