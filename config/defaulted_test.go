package config

import (
	"reflect"
	"testing"
)

// TestLocationsDefaulted: eventlog and store default to the sample event log and ./archive
// so that a fresh checkout runs without configuration; the example file called them
// "Required; no default". A configuration file that leaves store out (an edit that lost
// the line, a key set only in a variable the unit no longer sets) sealed into ./archive
// of whatever the working directory was (the home folder under cron) without a word.
// Load names the locations a given file, the environment and the flags all leave out;
// without a file (a checkout's sample run) nothing is reported.
func TestLocationsDefaulted(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{"both set", "eventlog: ./ev\nstore: ./archive\n", nil, nil},
		{"store left out", "eventlog: ./ev\n", nil, []string{"store"}},
		{"both left out", "log:\n  level: info\n", nil, []string{"eventlog", "store"}},
		{"store from the environment", "eventlog: ./ev\n", map[string]string{"CHATVAULT_STORE": "s3://b/p"}, nil},
		{"no file", "", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Defaulted, tt.want) {
				t.Errorf("defaulted %v, want %v", c.Defaulted, tt.want)
			}
		})
	}
}
