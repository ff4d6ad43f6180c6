package config

import (
	"reflect"
	"testing"
)

// TestOverrides: a key the file sets is reported when its environment variable sets
// another value; the same value (a list spelt with commas, a bool, a size) or a variable
// for a key the file leaves out is not.
func TestOverrides(t *testing.T) {
	const file = "eventlog: ./ev\nstore: ./archive\nhttp:\n  metricsAddr: 10.0.0.5:9090\n" +
		"export:\n  excludeContentTypes: [wave, roomInvitation]\n  sortMemory: 256MiB\nattachments:\n  enabled: false\n"
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"none", nil, nil},
		{"the same values", map[string]string{"CHATVAULT_HTTP_METRICSADDR": "10.0.0.5:9090",
			"CHATVAULT_EXPORT_EXCLUDECONTENTTYPES": "wave,roomInvitation", "CHATVAULT_EXPORT_SORTMEMORY": "256MiB",
			"CHATVAULT_ATTACHMENTS_ENABLED": "false"}, nil},
		{"a key the file leaves out", map[string]string{"CHATVAULT_EXPORT_WORKERS": "2"}, nil},
		{"other values", map[string]string{"CHATVAULT_HTTP_METRICSADDR": "127.0.0.1:9090", "CHATVAULT_EXPORT_EXCLUDECONTENTTYPES": "wave",
			"CHATVAULT_STORE": "./elsewhere"}, []string{"store", "export.excludeContentTypes", "http.metricsAddr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeFile(t, file)
			c, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range c.Overrides {
				if o.File != path || o.Env != EnvVar(o.Key) {
					t.Errorf("override %+v", o)
				}
				got = append(got, o.Key)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("overrides %v, want %v", got, tt.want)
			}
		})
	}
}
