package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/spf13/pflag"
)

// clearEnv hides any CHATVAULT_ variable of the environment running the tests; viper, like
// Load, treats an empty variable as unset.
func clearEnv(t *testing.T) {
	t.Helper()
	t.Setenv(ConfigEnv, "")
	for _, k := range keys {
		t.Setenv(EnvVar(k.path), "")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chatvault.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flagSet returns a FlagSet from BindFlags with args parsed.
func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// withLocations is Default with the two keys that have no default, as Load resolves them.
func withLocations(eventlog, store string) *Config {
	c := Default()
	c.EventLog, c.Store = eventlog, store
	c.Directory = defaultDirectory(eventlog)
	return c
}

func TestDefaultIsValid(t *testing.T) {
	if problems := Default().problems(); len(problems) != 0 {
		t.Fatalf("Default() has problems: %v", problems)
	}
	if err := withLocations("./events", "./archive").Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)
	t.Setenv("CHATVAULT_EVENTLOG", "./events")
	t.Setenv("CHATVAULT_STORE", "./archive")
	got, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := withLocations("./events", "./archive"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Load() = %+v\nwant %+v", got, want)
	}
}

func TestLoadEmptyLocations(t *testing.T) {
	clearEnv(t)
	path := writeFile(t, "eventlog: \"\"\nstore: \"\"\n")
	_, err := Load(path, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load() error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"config: eventlog", "config: store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	clearEnv(t)
	got, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		EventLog:         "s3://events/prod",
		Directory:        "/srv/directory.json",
		DirectoryMaxSize: 1 << 30,
		Store:            "s3://archive/chatvault",
		StoreLayout:      2,
		S3:               S3{Endpoint: "http://localhost:9000", Region: "eu-west-3", PathStyle: true, PartSize: 16 << 20, PresignExpiry: time.Hour, MaxAttempts: 10, MaxBackoff: 20 * time.Second, APIMaxAttempts: 3},
		Export: Export{
			ExcludeContentTypes: []string{"wave", "roomInvitation", "reaction"},
			SortMemory:          1 << 30,
			TempDir:             "/var/tmp/chatvault",
			Workers:             4,
			IgnoreFiles:         []string{"_SUCCESS", "*.crc"},
		},
		Schedule: Schedule{Cron: "CRON_TZ=Europe/Paris 15 2 * * *", Grace: 90 * time.Minute, RetryInterval: 10 * time.Minute, LeaseMaxSkew: time.Minute},
		Signing:  Signing{KeyFile: "/etc/chatvault/signing.key"},
		HTTP: HTTP{Addr: "127.0.0.1:9090", ShutdownTimeout: 5 * time.Second, TokenRate: 50, TokenConcurrency: 16, ClientRate: 0, TrustedProxies: []string{}, AuthFailures: 3,
			ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 20 * time.Second, WriteTimeout: 45 * time.Second,
			IdleTimeout: time.Minute, MaxConnections: 1024, TLS: TLS{CertFile: "/etc/chatvault/tls.crt", KeyFile: "/etc/chatvault/tls.key"},
			VerifyFirstMaxSize: 8 << 20, VerifyFirstMemory: 64 << 20},
		Auth: Auth{TokensFile: "/etc/chatvault/tokens.json"},
		SMTP: SMTP{Host: "smtp.acme.example", Port: 465, From: "chatvault <archive@acme.example>", Username: "relay",
			PasswordFile: "/etc/chatvault/smtp.password", Security: "tls", CAFile: "/etc/chatvault/relay-ca.pem", Timeout: 10 * time.Second},
		Exports: Exports{Concurrency: 4, MaxScanEvents: 1000000, MaxIDs: 50, MaxTasksPerOrg: 20, Retention: 720 * time.Hour, URLExpiry: time.Hour,
			BaseURL: "https://chatvault.example.com"},
		Audit: Audit{FlushInterval: 30 * time.Second, MaxPending: 500, RetentionDays: 3650},
		Log:   Log{Level: "debug", Format: "json"},

		Verify: Verify{Interval: time.Hour, Cycle: 7 * 24 * time.Hour, Sample: 1000},

		Attachments: Attachments{Enabled: true, AllowedHosts: []string{"files.acme.example", "10.0.0.5:8443"},
			TokenFile: "/etc/chatvault/files.token", TokenHosts: []string{}, Concurrency: 8, MaxSize: 1 << 30, ConnectTimeout: 5 * time.Second,
			HeaderTimeout: 20 * time.Second, Timeout: 30 * time.Minute, RetryFor: 72 * time.Hour, RetryEvery: time.Hour},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load() = %+v\nwant %+v", got, want)
	}
}

func TestLoadFileShapes(t *testing.T) {
	tests := []struct {
		name string
		file string
		want func(*Config)
	}{
		{"empty file", "", func(*Config) {}},
		{"only comments", "# nothing\n", func(*Config) {}},
		{"empty section", "signing:\nhttp:\n", func(*Config) {}},
		{"null value keeps default", "s3:\n  region:\n", func(*Config) {}},
		{"keys are case-insensitive", "export:\n  SortMemory: 1MiB\nLOG:\n  level: warn\n",
			func(c *Config) { c.Export.SortMemory = 1 << 20; c.Log.Level = "warn" }},
		{"lower-case key", "export:\n  sortmemory: 2MiB\n", func(c *Config) { c.Export.SortMemory = 2 << 20 }},
		{"size as plain bytes", "export:\n  sortMemory: 1048576\n", func(c *Config) { c.Export.SortMemory = 1 << 20 }},
		{"empty exclusion list", "export:\n  excludeContentTypes: []\n", func(c *Config) { c.Export.ExcludeContentTypes = []string{} }},
		{"grace zero", "schedule:\n  grace: 0\n", func(c *Config) { c.Schedule.Grace = 0 }},
		{"pathStyle as string", "s3:\n  pathStyle: \"true\"\n", func(c *Config) { c.S3.PathStyle = true }},
		{"log level upper-case", "log:\n  level: DEBUG\n  format: JSON\n", func(c *Config) { c.Log.Level = "debug"; c.Log.Format = "json" }},
		{"flow mappings", "s3: {endpoint: \"https://minio.internal\", pathStyle: true}\n",
			func(c *Config) { c.S3.Endpoint = "https://minio.internal"; c.S3.PathStyle = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			file := writeFile(t, "eventlog: ./events\nstore: ./archive\n"+tt.file)
			got, err := Load(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := withLocations("./events", "./archive")
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Load() = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoadPrecedence(t *testing.T) {
	const file = "eventlog: ./from-file\nstore: ./archive\nexport:\n  sortMemory: 1MiB\nlog:\n  level: debug\n"
	tests := []struct {
		name       string
		file       string // "" means no file
		env        map[string]string
		args       []string
		sortMemory int64
		level      string
		eventlog   string
	}{
		{
			name:       "defaults",
			env:        map[string]string{"CHATVAULT_EVENTLOG": "./from-env", "CHATVAULT_STORE": "./archive"},
			sortMemory: 256 << 20, level: "info", eventlog: "./from-env",
		},
		{
			name:       "file over default",
			file:       file,
			sortMemory: 1 << 20, level: "debug", eventlog: "./from-file",
		},
		{
			name:       "env over file",
			file:       file,
			env:        map[string]string{"CHATVAULT_EXPORT_SORTMEMORY": "2MiB", "CHATVAULT_LOG_LEVEL": "warn", "CHATVAULT_EVENTLOG": "./from-env"},
			sortMemory: 2 << 20, level: "warn", eventlog: "./from-env",
		},
		{
			name:       "env without a file",
			env:        map[string]string{"CHATVAULT_EXPORT_SORTMEMORY": "2MiB", "CHATVAULT_EVENTLOG": "./from-env", "CHATVAULT_STORE": "./archive"},
			sortMemory: 2 << 20, level: "info", eventlog: "./from-env",
		},
		{
			name:       "flag over env",
			file:       file,
			env:        map[string]string{"CHATVAULT_EXPORT_SORTMEMORY": "2MiB", "CHATVAULT_LOG_LEVEL": "warn", "CHATVAULT_EVENTLOG": "./from-env"},
			args:       []string{"--sort-memory", "3MiB", "--log-level=error", "--eventlog", "./from-flag"},
			sortMemory: 3 << 20, level: "error", eventlog: "./from-flag",
		},
		{
			name:       "unset flags do not override",
			file:       file,
			env:        map[string]string{"CHATVAULT_LOG_LEVEL": "warn"},
			args:       []string{"--store", "./archive"},
			sortMemory: 1 << 20, level: "warn", eventlog: "./from-file",
		},
		{
			name:       "a flag set to the default still overrides",
			file:       file,
			args:       []string{"--sort-memory=256MiB", "--log-level=info"},
			sortMemory: 256 << 20, level: "info", eventlog: "./from-file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			got, err := Load(path, flagSet(t, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if got.Export.SortMemory != tt.sortMemory || got.Log.Level != tt.level || got.EventLog != tt.eventlog {
				t.Fatalf("sortMemory, log.level, eventlog = %s, %s, %s; want %s, %s, %s",
					FormatSize(got.Export.SortMemory), got.Log.Level, got.EventLog,
					FormatSize(tt.sortMemory), tt.level, tt.eventlog)
			}
		})
	}
}

// TestLoadEveryKeyFromEnv sets each key through its variable alone, with no file, and
// fails when a key of the table has no case here.
func TestLoadEveryKeyFromEnv(t *testing.T) {
	tests := []struct {
		path  string
		value string
		want  func(*Config)
		also  []string // variable, value: keys that only validate together with this one
	}{
		{"eventlog", "s3://events/prod", func(c *Config) { c.EventLog = "s3://events/prod"; c.Directory = "s3://events/prod/directory.json" }, nil},
		{"directory", "/srv/dir.json", func(c *Config) { c.Directory = "/srv/dir.json" }, nil},
		{"store", "s3://archive", func(c *Config) { c.Store = "s3://archive" }, nil},
		{"s3.endpoint", "http://localhost:9000", func(c *Config) { c.S3.Endpoint = "http://localhost:9000" }, nil},
		{"s3.region", "eu-west-3", func(c *Config) { c.S3.Region = "eu-west-3" }, nil},
		{"s3.pathStyle", "true", func(c *Config) { c.S3.PathStyle = true }, nil},
		{"s3.partSize", "16MiB", func(c *Config) { c.S3.PartSize = 16 << 20 }, nil},
		{"s3.presignExpiry", "1h", func(c *Config) { c.S3.PresignExpiry = time.Hour }, nil},
		{"s3.maxAttempts", "4", func(c *Config) { c.S3.MaxAttempts = 4 }, nil},
		{"s3.maxBackoff", "2s", func(c *Config) { c.S3.MaxBackoff = 2 * time.Second }, nil},
		{"s3.apiMaxAttempts", "2", func(c *Config) { c.S3.APIMaxAttempts = 2 }, nil},
		{"export.excludeContentTypes", "wave, reaction,,roomInvitation", func(c *Config) {
			c.Export.ExcludeContentTypes = []string{"wave", "reaction", "roomInvitation"}
		}, nil},
		{"export.sortMemory", "64KiB", func(c *Config) { c.Export.SortMemory = 64 << 10 }, nil},
		{"export.tempDir", "/var/tmp", func(c *Config) { c.Export.TempDir = "/var/tmp" }, nil},
		{"export.workers", "3", func(c *Config) { c.Export.Workers = 3 }, nil},
		{"export.ignoreFiles", "_SUCCESS, .*,", func(c *Config) { c.Export.IgnoreFiles = []string{"_SUCCESS", ".*"} }, nil},
		{"schedule.cron", "@daily", func(c *Config) { c.Schedule.Cron = "@daily" }, nil},
		{"schedule.grace", "90s", func(c *Config) { c.Schedule.Grace = 90 * time.Second }, nil},
		{"schedule.retryInterval", "15m", func(c *Config) { c.Schedule.RetryInterval = 15 * time.Minute }, nil},
		{"schedule.enabled", "false", func(c *Config) { c.Schedule.Enabled = false }, nil},
		{"schedule.leaseMaxSkew", "5m", func(c *Config) { c.Schedule.LeaseMaxSkew = 5 * time.Minute }, nil},
		{"http.shutdownTimeout", "5s", func(c *Config) { c.HTTP.ShutdownTimeout = 5 * time.Second }, nil},
		{"http.tokenRate", "0", func(c *Config) { c.HTTP.TokenRate = 0 }, nil},
		{"http.tokenConcurrency", "0", func(c *Config) { c.HTTP.TokenConcurrency = 0 }, nil},
		{"http.trustedProxies", "10.0.0.0/8, 192.0.2.7,", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7"} }, nil},
		{"http.clientRate", "100", func(c *Config) { c.HTTP.ClientRate = 100 }, nil},
		{"http.authFailures", "0", func(c *Config) { c.HTTP.AuthFailures = 0 }, nil},
		{"http.readHeaderTimeout", "2s", func(c *Config) { c.HTTP.ReadHeaderTimeout = 2 * time.Second }, nil},
		{"http.readTimeout", "1m", func(c *Config) { c.HTTP.ReadTimeout = time.Minute }, nil},
		{"http.writeTimeout", "5m", func(c *Config) { c.HTTP.WriteTimeout = 5 * time.Minute }, nil},
		{"http.idleTimeout", "30s", func(c *Config) { c.HTTP.IdleTimeout = 30 * time.Second }, nil},
		{"http.maxConnections", "4096", func(c *Config) { c.HTTP.MaxConnections = 4096 }, nil},
		{"http.verifyFirstMaxSize", "1MiB", func(c *Config) { c.HTTP.VerifyFirstMaxSize = 1 << 20 }, nil},
		{"http.verifyFirstMemory", "1GiB", func(c *Config) { c.HTTP.VerifyFirstMemory = 1 << 30 }, nil},
		{"http.tls.certFile", "/c", func(c *Config) { c.HTTP.TLS = TLS{CertFile: "/c", KeyFile: "/k"} },
			[]string{"CHATVAULT_HTTP_TLS_KEYFILE", "/k"}},
		{"http.tls.keyFile", "/k", func(c *Config) { c.HTTP.TLS = TLS{CertFile: "/c", KeyFile: "/k"} },
			[]string{"CHATVAULT_HTTP_TLS_CERTFILE", "/c"}},
		{"signing.keyFile", "/k", func(c *Config) { c.Signing.KeyFile = "/k" }, nil},
		{"signing.publicKeyFile", "/k.pub", func(c *Config) { c.Signing.PublicKeyFile = "/k.pub" }, nil},
		{"http.addr", ":0", func(c *Config) { c.HTTP.Addr = ":0" }, nil},
		{"http.metricsAddr", "127.0.0.1:9090", func(c *Config) { c.HTTP.MetricsAddr = "127.0.0.1:9090" }, nil},
		{"auth.tokensFile", "/t", func(c *Config) { c.Auth.TokensFile = "/t" }, nil},
		{"exports.concurrency", "4", func(c *Config) { c.Exports.Concurrency = 4 }, nil},
		{"exports.maxScanEvents", "5000000", func(c *Config) { c.Exports.MaxScanEvents = 5000000 }, nil},
		{"exports.maxIds", "10", func(c *Config) { c.Exports.MaxIDs = 10 }, nil},
		{"exports.maxTasksPerOrg", "5", func(c *Config) { c.Exports.MaxTasksPerOrg = 5 }, nil},
		{"exports.retention", "720h", func(c *Config) { c.Exports.Retention = 720 * time.Hour }, nil},
		{"exports.urlExpiry", "1h", func(c *Config) { c.Exports.URLExpiry = time.Hour }, nil},
		{"exports.baseURL", "https://cv.example/", func(c *Config) { c.Exports.BaseURL = "https://cv.example" }, nil},
		{"exports.linkKeyFile", "/l", func(c *Config) { c.Exports.LinkKeyFile = "/l" }, nil},
		{"fs.group", "chatvault-audit", func(c *Config) { c.FS.Group = "chatvault-audit" }, nil},
		{"store.layout", "2", func(c *Config) { c.StoreLayout = 2 }, nil},
		{"directory.maxSize", "16MiB", func(c *Config) { c.DirectoryMaxSize = 16 << 20 }, nil},
		{"smtp.host", "mail.acme.example", func(c *Config) { c.SMTP.Host, c.SMTP.From = "mail.acme.example", "a@acme.example" },
			[]string{"CHATVAULT_SMTP_FROM", "a@acme.example"}},
		{"smtp.port", "465", func(c *Config) { c.SMTP.Port = 465 }, nil},
		{"smtp.from", "a@acme.example", func(c *Config) { c.SMTP.From = "a@acme.example" }, nil},
		{"smtp.username", "relay", func(c *Config) { c.SMTP.Username, c.SMTP.PasswordFile = "relay", "/p" },
			[]string{"CHATVAULT_SMTP_PASSWORDFILE", "/p"}},
		{"smtp.passwordFile", "/p", func(c *Config) { c.SMTP.PasswordFile = "/p" }, nil},
		{"smtp.security", "tls", func(c *Config) { c.SMTP.Security = "tls" }, nil},
		{"smtp.caFile", "/ca.pem", func(c *Config) { c.SMTP.CAFile = "/ca.pem" }, nil},
		{"smtp.timeout", "5s", func(c *Config) { c.SMTP.Timeout = 5 * time.Second }, nil},
		{"audit.flushInterval", "10s", func(c *Config) { c.Audit.FlushInterval = 10 * time.Second }, nil},
		{"audit.maxPending", "1000", func(c *Config) { c.Audit.MaxPending = 1000 }, nil},
		{"audit.retentionDays", "0", func(c *Config) { c.Audit.RetentionDays = 0 }, nil},
		{"verify.interval", "2h", func(c *Config) { c.Verify.Interval = 2 * time.Hour }, nil},
		{"verify.cycle", "336h", func(c *Config) { c.Verify.Cycle = 336 * time.Hour }, nil},
		{"verify.sample", "50", func(c *Config) { c.Verify.Sample = 50 }, nil},
		{"verify.witness", "/var/lib/chatvault/witness.json", func(c *Config) { c.Verify.Witness = "/var/lib/chatvault/witness.json" }, nil},
		{"attachments.enabled", "true", func(c *Config) { c.Attachments.Enabled, c.Attachments.AllowedHosts = true, []string{"files.example"} },
			[]string{"CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example"}},
		{"attachments.allowedHosts", "files.example, 10.0.0.5:8443,,cdn.example:443", func(c *Config) {
			c.Attachments.AllowedHosts = []string{"files.example", "10.0.0.5:8443", "cdn.example:443"}
		}, nil},
		{"attachments.tokenFile", "/t", func(c *Config) { c.Attachments.TokenFile = "/t" }, nil},
		{"attachments.tokenHosts", "files.example", func(c *Config) {
			c.Attachments.AllowedHosts, c.Attachments.TokenHosts = []string{"files.example"}, []string{"files.example"}
		}, []string{"CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example"}},
		{"attachments.concurrency", "8", func(c *Config) { c.Attachments.Concurrency = 8 }, nil},
		{"attachments.maxSize", "1GiB", func(c *Config) { c.Attachments.MaxSize = 1 << 30 }, nil},
		{"attachments.connectTimeout", "3s", func(c *Config) { c.Attachments.ConnectTimeout = 3 * time.Second }, nil},
		{"attachments.headerTimeout", "5s", func(c *Config) { c.Attachments.HeaderTimeout = 5 * time.Second }, nil},
		{"attachments.timeout", "1h", func(c *Config) { c.Attachments.Timeout = time.Hour }, nil},
		{"attachments.retryFor", "0s", func(c *Config) { c.Attachments.RetryFor = 0 }, nil},
		{"attachments.retryEvery", "15m", func(c *Config) { c.Attachments.RetryEvery = 15 * time.Minute }, nil},
		{"log.level", "error", func(c *Config) { c.Log.Level = "error" }, nil},
		{"log.format", "text", func(c *Config) { c.Log.Format = "text" }, nil},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.path] = true
		t.Run(tt.path, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("CHATVAULT_EVENTLOG", "./events")
			t.Setenv("CHATVAULT_STORE", "./archive")
			t.Setenv(EnvVar(tt.path), tt.value)
			for i := 0; i+1 < len(tt.also); i += 2 {
				t.Setenv(tt.also[i], tt.also[i+1])
			}
			got, err := Load("", nil)
			if err != nil {
				t.Fatal(err)
			}
			want := withLocations("./events", "./archive")
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("with %s=%s, Load() = %+v\nwant %+v", EnvVar(tt.path), tt.value, got, want)
			}
		})
	}
	for _, k := range keys {
		if !covered[k.path] {
			t.Errorf("key %s has no case", k.path)
		}
	}
}

func TestEnvVar(t *testing.T) {
	tests := map[string]string{
		"eventlog":                   "CHATVAULT_EVENTLOG",
		"s3.endpoint":                "CHATVAULT_S3_ENDPOINT",
		"export.sortMemory":          "CHATVAULT_EXPORT_SORTMEMORY",
		"auth.tokensFile":            "CHATVAULT_AUTH_TOKENSFILE",
		"export.excludeContentTypes": "CHATVAULT_EXPORT_EXCLUDECONTENTTYPES",
	}
	for path, want := range tests {
		if got := EnvVar(path); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestLoadEveryFlag(t *testing.T) {
	tests := []struct {
		args []string
		want func(*Config)
	}{
		{[]string{"--eventlog=s3://e/p"}, func(c *Config) { c.EventLog = "s3://e/p"; c.Directory = "s3://e/p/directory.json" }},
		{[]string{"--directory=/d.json"}, func(c *Config) { c.Directory = "/d.json" }},
		{[]string{"--store=/s"}, func(c *Config) { c.Store = "/s" }},
		{[]string{"--sort-memory=128KiB"}, func(c *Config) { c.Export.SortMemory = 128 << 10 }},
		{[]string{"--temp-dir=/tmp/x"}, func(c *Config) { c.Export.TempDir = "/tmp/x" }},
		{[]string{"--workers=2"}, func(c *Config) { c.Export.Workers = 2 }},
		{[]string{"--log-level=debug"}, func(c *Config) { c.Log.Level = "debug" }},
		{[]string{"--log-format=json"}, func(c *Config) { c.Log.Format = "json" }},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			clearEnv(t)
			t.Setenv("CHATVAULT_EVENTLOG", "./events")
			t.Setenv("CHATVAULT_STORE", "./archive")
			got, err := Load("", flagSet(t, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			want := withLocations("./events", "./archive")
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Load() = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestConfigFileSelection(t *testing.T) {
	clearEnv(t)
	fromArg := writeFile(t, "eventlog: ./arg\nstore: ./archive\n")
	fromFlag := writeFile(t, "eventlog: ./flag\nstore: ./archive\n")
	fromEnv := writeFile(t, "eventlog: ./env\nstore: ./archive\n")
	tests := []struct {
		name string
		file string
		args []string
		env  string
		want string
	}{
		{"CHATVAULT_CONFIG", "", nil, fromEnv, "./env"},
		{"--config over CHATVAULT_CONFIG", "", []string{"--config", fromFlag}, fromEnv, "./flag"},
		{"argument over --config", fromArg, []string{"--config", fromFlag}, fromEnv, "./arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(ConfigEnv, tt.env)
			got, err := Load(tt.file, flagSet(t, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if got.EventLog != tt.want {
				t.Fatalf("eventlog = %q, want %q", got.EventLog, tt.want)
			}
		})
	}

	t.Run("missing CHATVAULT_CONFIG file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		t.Setenv(ConfigEnv, missing)
		_, err := Load("", nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("Load() error = %v, want ErrInvalid naming %s", err, missing)
		}
	})
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string // substring of the error, after the file's path
	}{
		{"typo", "export:\n  sortMemmory: 1GiB\n", "unknown key export.sortmemmory (did you mean export.sortMemory?)"},
		{"wrong section", "sortMemory: 1GiB\n", "unknown key sortmemory (did you mean export.sortMemory?)"},
		{"unknown section", "metrics:\n  addr: :9090\n", "unknown key metrics.addr"},
		{"unknown top-level", "color: blue\n", "unknown key color"},
		{"removed key", "exports:\n  maxRangeDays: 366\n", "key exports.maxrangedays was removed: export tasks are bounded by the records they read, not by days: set exports.maxScanEvents"},
		{"value for a section", "s3: minio\n", "s3: want a mapping of its keys, not a value"},
		{"mapping for a value", "http:\n  addr:\n    port: 80\n", "http.addr: want a value, not a mapping"},
		{"bad YAML", "export: [\n", "yaml:"},
		{"not a mapping", "- a\n- b\n", "yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			path := writeFile(t, "eventlog: ./events\nstore: ./archive\n"+tt.file)
			_, err := Load(path, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load() error = %v, want ErrInvalid", err)
			}
			if want := "config: " + path + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		clearEnv(t)
		_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Load() error = %v, want ErrInvalid and ErrNotExist", err)
		}
	})

	t.Run("every unknown key is reported", func(t *testing.T) {
		clearEnv(t)
		_, err := Load(writeFile(t, "a: 1\nb: 2\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "unknown key a") || !strings.Contains(err.Error(), "unknown key b") {
			t.Fatalf("Load() error = %v, want both keys named", err)
		}
	})
}

// TestLoadValueErrors checks that a value that does not parse is an error naming its key
// and where it came from, never a silent zero.
func TestLoadValueErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		args []string
		want string
	}{
		{name: "size from env", env: map[string]string{"CHATVAULT_EXPORT_SORTMEMORY": "12XB"},
			want: `config: export.sortMemory (CHATVAULT_EXPORT_SORTMEMORY): "12XB" is not a size (use units like 64MiB)`},
		{name: "size from flag", args: []string{"--sort-memory=lots"},
			want: `config: export.sortMemory (--sort-memory): "lots" is not a size`},
		{name: "size from file", file: "export:\n  sortMemory: -5\n",
			want: `config: export.sortMemory (FILE): -5 is not a size`},
		{name: "duration", file: "schedule:\n  grace: 1 hour\n",
			want: `config: schedule.grace (FILE): "1 hour" is not a duration (use Go syntax like 90s or 1h)`},
		{name: "bare number duration", file: "schedule:\n  grace: 3600\n",
			want: `config: schedule.grace (FILE): 3600 is not a duration`},
		{name: "bool", env: map[string]string{"CHATVAULT_S3_PATHSTYLE": "maybe"},
			want: `config: s3.pathStyle (CHATVAULT_S3_PATHSTYLE): "maybe" is not true or false`},
		{name: "int", env: map[string]string{"CHATVAULT_EXPORT_WORKERS": "many"},
			want: `config: export.workers (CHATVAULT_EXPORT_WORKERS): "many" is not an integer`},
		{name: "list for a string", file: "directory: [a, b]\n",
			want: `config: directory (FILE): want a single value, not a list`},
		{name: "string for a list is split", file: "export:\n  excludeContentTypes: text\n",
			want: `config: export.excludeContentTypes (FILE): "text" is a message type`},
		{name: "validation names the source", env: map[string]string{"CHATVAULT_LOG_LEVEL": "verbose"},
			want: `config: log.level (CHATVAULT_LOG_LEVEL): "verbose" is not one of debug, info, warn, error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeFile(t, "eventlog: ./events\nstore: ./archive\n"+tt.file)
			_, err := Load(path, flagSet(t, tt.args...))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load() error = %v, want ErrInvalid", err)
			}
			if want := strings.ReplaceAll(tt.want, "FILE", path); !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestLoadJoinsProblems(t *testing.T) {
	clearEnv(t)
	t.Setenv("CHATVAULT_EXPORT_SORTMEMORY", "12XB")
	t.Setenv("CHATVAULT_HTTP_ADDR", "8080")
	_, err := Load("", nil)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not an *Error", e)
		}
		got = append(got, ce.Key)
	}
	// An unparsable sortMemory is reported once, not again by validation.
	want := []string{"export.sortMemory", "http.addr"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems about %v, want %v", got, want)
	}
}

func TestDirectoryDefault(t *testing.T) {
	tests := []struct {
		eventlog  string
		directory string
		want      string
	}{
		{"./testdata/eventlog", "", filepath.Join("testdata", "eventlog", "directory.json")},
		{"/srv/events", "", filepath.Join("/srv/events", "directory.json")},
		{"s3://bucket/prefix", "", "s3://bucket/prefix/directory.json"},
		{"s3://bucket/prefix/", "", "s3://bucket/prefix/directory.json"},
		{"s3://bucket", "", "s3://bucket/directory.json"},
		{"s3://bucket/prefix", "s3://other/dir.json", "s3://other/dir.json"},
		{"./events", "/etc/chatvault/directory.json", "/etc/chatvault/directory.json"},
	}
	for _, tt := range tests {
		t.Run(tt.eventlog+" "+tt.directory, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("CHATVAULT_EVENTLOG", tt.eventlog)
			t.Setenv("CHATVAULT_DIRECTORY", tt.directory)
			t.Setenv("CHATVAULT_STORE", "./archive")
			got, err := Load("", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Directory != tt.want {
				t.Fatalf("directory = %q, want %q", got.Directory, tt.want)
			}
		})
	}
}

// TestExampleFile keeps deploy/chatvault.example.yaml in step with the code: it loads to
// the defaults, and documents every key with its environment variable and flag.
func TestExampleFile(t *testing.T) {
	const example = "../deploy/chatvault.example.yaml"
	clearEnv(t)
	got, err := Load(example, nil)
	if err != nil {
		t.Fatal(err)
	}
	// eventlog and store have no default; the example must show a value.
	if want := withLocations("./testdata/eventlog", "./archive"); !reflect.DeepEqual(got, want) {
		t.Fatalf("example loads as %+v\nwant the defaults %+v", got, want)
	}

	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, k := range keys {
		leaf := k.path[strings.LastIndex(k.path, ".")+1:]
		if !strings.Contains(text, leaf+":") {
			t.Errorf("example does not set %s", k.path)
		}
		if !strings.Contains(text, "# env "+EnvVar(k.path)) {
			t.Errorf("example does not give %s's variable %s", k.path, EnvVar(k.path))
		}
		flag := "no flag"
		if k.flag != "" {
			flag = "flag --" + k.flag
		}
		if !strings.Contains(text, EnvVar(k.path)+", "+flag) && !strings.Contains(text, EnvVar(k.path)+" (comma-separated), "+flag) {
			t.Errorf("example does not say %s's flag: want %q", k.path, flag)
		}
	}
}

func TestBindFlagsUsageNamesEnv(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(fs)
	for _, name := range []string{ConfigFlag, "eventlog", "directory", "store", "sort-memory", "temp-dir", "workers", "log-level", "log-format"} {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("flag --%s is not registered", name)
			continue
		}
		if !strings.Contains(f.Usage, "env CHATVAULT_") {
			t.Errorf("--%s usage %q does not name its variable", name, f.Usage)
		}
	}
}

// TestStoreLayout: store.layout is 3 by default, 2 when set (in the file beside store, or in
// the environment), and nothing else.
func TestStoreLayout(t *testing.T) {
	clearEnv(t)
	for _, tt := range []struct {
		file string
		env  string
		want int
		err  string
	}{
		{"store: ./a\n", "", 3, ""},
		{"store: ./a\nstore.layout: 2\n", "", 2, ""},
		{"store: ./a\nstore.layout: 3\n", "2", 2, ""},
		{"store: ./a\nstore.layout: 2\n", "3", 3, ""},
		{"store: ./a\nstore.layout: 4\n", "", 0, "store.layout"},
		{"store: ./a\n", "1", 0, "store.layout"},
		{"store:\n  layout: 3\n", "", 0, "store"},
	} {
		t.Setenv("CHATVAULT_EVENTLOG", "./events")
		t.Setenv("CHATVAULT_STORE_LAYOUT", tt.env)
		c, err := Load(writeFile(t, tt.file), nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q, env %q: %v; want an error about %s", tt.file, tt.env, err, tt.err)
			}
			continue
		}
		if err != nil || c.StoreLayout != tt.want {
			t.Errorf("%q, env %q: %+v, %v; want layout %d", tt.file, tt.env, c, err, tt.want)
		}
	}
}

// TestDirectoryMaxSize: directory.maxSize bounds the directory snapshot's read, 1GiB by
// default, set in the file beside directory or in the environment, with a unit; a bound
// below 1KiB (a size without its unit, say) is refused naming the key.
func TestDirectoryMaxSize(t *testing.T) {
	clearEnv(t)
	for _, tt := range []struct {
		file string
		env  string
		want int64
		err  string
	}{
		{"store: ./a\n", "", 1 << 30, ""},
		{"store: ./a\ndirectory.maxSize: 64MiB\n", "", 64 << 20, ""},
		{"store: ./a\ndirectory: /srv/d.json\ndirectory.maxSize: 2GiB\n", "", 2 << 30, ""},
		{"store: ./a\n", "4KiB", 4 << 10, ""},
		{"store: ./a\ndirectory.maxSize: 64MiB\n", "1MiB", 1 << 20, ""},
		{"store: ./a\ndirectory.maxSize: 512\n", "", 0, "directory.maxSize"},
		{"store: ./a\n", "lots", 0, "directory.maxSize"},
	} {
		t.Setenv("CHATVAULT_EVENTLOG", "./events")
		t.Setenv("CHATVAULT_DIRECTORY_MAXSIZE", tt.env)
		c, err := Load(writeFile(t, tt.file), nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q, env %q: %v; want an error about %s", tt.file, tt.env, err, tt.err)
			}
			continue
		}
		if err != nil || c.DirectoryMaxSize != tt.want {
			t.Errorf("%q, env %q: %+v, %v; want directory.maxSize %d", tt.file, tt.env, c, err, tt.want)
		}
	}
}

// TestStoreLayoutBesideStoreFlag: store.layout is read from the environment and the file
// when store itself comes from --store or CHATVAULT_STORE (viper would hide it behind
// store's value).
func TestStoreLayoutBesideStoreFlag(t *testing.T) {
	clearEnv(t)
	t.Setenv("CHATVAULT_EVENTLOG", "./events")
	file := writeFile(t, "store.layout: 2\n")
	for _, tt := range []struct {
		name, file, env, storeEnv string
		flag                      bool
	}{
		{"env, --store", "", "2", "", true},
		{"file, --store", file, "", "", true},
		{"env, CHATVAULT_STORE", "", "2", "./b", false},
		{"file, CHATVAULT_STORE", file, "", "./b", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHATVAULT_STORE_LAYOUT", tt.env)
			t.Setenv("CHATVAULT_STORE", tt.storeEnv)
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			BindFlags(fs)
			if tt.flag {
				if err := fs.Parse([]string{"--store", "./b"}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(tt.file, fs)
			if err != nil || c.StoreLayout != 2 || c.Store != "./b" {
				t.Fatalf("Load = %+v, %v; want store ./b in layout 2 (not the default 3)", c, err)
			}
		})
	}
}

// TestLoadTildeLocationRefused: only a shell expands ~, and not inside quotes, after
// --store=, in a YAML file or a unit's Environment=: `store: ~/archive` sealed into a
// folder named "~" in the working directory, and an eventlog of ~/… read nothing. A
// location that starts with ~ is an error naming the key (exit 2), before anything runs.
func TestLoadTildeLocationRefused(t *testing.T) {
	clearEnv(t)
	path := writeFile(t, "eventlog: ~/events\nstore: \"~/archive\"\ndirectory: ~/directory.json\n")
	_, err := Load(path, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load() error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"config: eventlog", "config: store", "config: directory", "~ is not expanded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	clearEnv(t)
	t.Setenv("CHATVAULT_EVENTLOG", "./events")
	if _, err := Load("", flagSet(t, "--store=~/archive")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--store") {
		t.Errorf("--store=~/archive: %v, want ErrInvalid naming the flag", err)
	}
	// A name that only starts with the character is a name.
	t.Setenv("CHATVAULT_STORE", "./~archive")
	if _, err := Load("", nil); err != nil {
		t.Errorf("./~archive: %v", err)
	}
	reliability.Record(t, "operations", "a location written ~/… where no shell expands it (YAML file, quotes, --store=~/…)", reliability.Refused,
		`exit 2 naming the key: "~ is not expanded here"; it sealed into a folder named "~" in the working directory`)
}
