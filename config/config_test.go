package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string // "" means valid
		want   string // substring of the message
	}{
		{"valid", func(*Config) {}, "", ""},
		{"s3 locations", func(c *Config) { c.EventLog, c.Store, c.Directory = "s3://e/p", "s3://a", "s3://d/x.json" }, "", ""},
		{"no eventlog", func(c *Config) { c.EventLog = "" }, "eventlog", "required"},
		{"eventlog without bucket", func(c *Config) { c.EventLog = "s3://" }, "eventlog", "has no bucket"},
		{"eventlog with another scheme", func(c *Config) { c.EventLog = "gs://bucket/p" }, "eventlog", `unsupported scheme "gs"`},
		{"eventlog s3 without slashes", func(c *Config) { c.EventLog = "s3:bucket/p" }, "eventlog", "write s3://bucket/prefix"},
		{"directory without bucket", func(c *Config) { c.Directory = "s3:///directory.json" }, "directory", "has no bucket"},
		{"no store", func(c *Config) { c.Store = "" }, "store", "required"},
		{"store without bucket", func(c *Config) { c.Store = "s3:///prefix" }, "store", "has no bucket"},
		{"endpoint not a URL", func(c *Config) { c.S3.Endpoint = "localhost:9000" }, "s3.endpoint", "not an http:// or https:// URL"},
		{"endpoint https", func(c *Config) { c.S3.Endpoint = "https://s3.example" }, "", ""},
		{"no region", func(c *Config) { c.S3.Region = "" }, "s3.region", "required"},
		{"part size below 5MiB", func(c *Config) { c.S3.PartSize = 1 << 20 }, "s3.partSize", "below S3's minimum"},
		{"presign expiry above 7 days", func(c *Config) { c.S3.PresignExpiry = 8 * 24 * time.Hour }, "s3.presignExpiry", "not between"},
		{"no S3 attempt", func(c *Config) { c.S3.MaxAttempts = 0 }, "s3.maxAttempts", "not between 1 and 100"},
		{"S3 attempts above 100", func(c *Config) { c.S3.MaxAttempts = 101 }, "s3.maxAttempts", "not between 1 and 100"},
		{"no S3 API attempt", func(c *Config) { c.S3.APIMaxAttempts = 0 }, "s3.apiMaxAttempts", "not between 1 and 100"},
		{"S3 API attempts above 100", func(c *Config) { c.S3.APIMaxAttempts = 101 }, "s3.apiMaxAttempts", "not between 1 and 100"},
		{"S3 backoff 0", func(c *Config) { c.S3.MaxBackoff = 0 }, "s3.maxBackoff", "not between 1ms and 5m"},
		{"S3 backoff above 5m", func(c *Config) { c.S3.MaxBackoff = time.Hour }, "s3.maxBackoff", "not between 1ms and 5m"},
		{"exclude text", func(c *Config) { c.Export.ExcludeContentTypes = []string{"wave", "text"} }, "export.excludeContentTypes", `"text" is a message type`},
		{"exclude emoji", func(c *Config) { c.Export.ExcludeContentTypes = []string{"emoji"} }, "export.excludeContentTypes", `"emoji" is a message type`},
		{"exclude item", func(c *Config) { c.Export.ExcludeContentTypes = []string{"item"} }, "export.excludeContentTypes", `"item" is a message type`},
		{"exclude textSnippet", func(c *Config) { c.Export.ExcludeContentTypes = []string{"textSnippet"} }, "export.excludeContentTypes", `"textSnippet" is a message type`},
		{"exclude membersChanged", func(c *Config) { c.Export.ExcludeContentTypes = []string{"membersChanged"} }, "export.excludeContentTypes", `"membersChanged" is a message type`},
		{"exclude empty name", func(c *Config) { c.Export.ExcludeContentTypes = []string{""} }, "export.excludeContentTypes", "empty content type"},
		{"exclude nothing", func(c *Config) { c.Export.ExcludeContentTypes = nil }, "", ""},
		{"sort memory at minimum", func(c *Config) { c.Export.SortMemory = MinSortMemory }, "", ""},
		{"sort memory below minimum", func(c *Config) { c.Export.SortMemory = MinSortMemory - 1 }, "export.sortMemory", "65535B is below the minimum of 64KiB"},
		{"sort memory zero", func(c *Config) { c.Export.SortMemory = 0 }, "export.sortMemory", "below the minimum"},
		{"negative workers", func(c *Config) { c.Export.Workers = -1 }, "export.workers", "negative"},
		{"ignore files", func(c *Config) { c.Export.IgnoreFiles = []string{"_SUCCESS", ".*", "*.tmp", "[a-c]?.txt"} }, "", ""},
		{"ignore file pattern malformed", func(c *Config) { c.Export.IgnoreFiles = []string{"_SUCCESS", "[a-"} }, "export.ignoreFiles", `"[a-": syntax error in pattern`},
		{"ignore file pattern malformed after a literal", func(c *Config) { c.Export.IgnoreFiles = []string{"x[", "a\\"} }, "export.ignoreFiles", `"x["`},
		{"ignore file pattern with a slash", func(c *Config) { c.Export.IgnoreFiles = []string{"sub/*.jsonl"} }, "export.ignoreFiles", "holds a /"},
		{"ignore file pattern empty", func(c *Config) { c.Export.IgnoreFiles = []string{""} }, "export.ignoreFiles", "empty pattern"},
		{"bad cron", func(c *Config) { c.Schedule.Cron = "30 0 * *" }, "schedule.cron", `"30 0 * *"`},
		{"six-field cron", func(c *Config) { c.Schedule.Cron = "0 30 0 * * *" }, "schedule.cron", "expected exactly 5 fields"},
		{"empty cron", func(c *Config) { c.Schedule.Cron = "" }, "schedule.cron", `""`},
		{"bad time zone", func(c *Config) { c.Schedule.Cron = "CRON_TZ=Mars/Olympus 30 0 * * *" }, "schedule.cron", "Mars/Olympus"},
		{"cron with time zone", func(c *Config) { c.Schedule.Cron = "CRON_TZ=Europe/Paris 30 0 * * *" }, "", ""},
		{"cron descriptor", func(c *Config) { c.Schedule.Cron = "@daily" }, "", ""},
		{"negative grace", func(c *Config) { c.Schedule.Grace = -time.Second }, "schedule.grace", "negative"},
		{"zero grace", func(c *Config) { c.Schedule.Grace = 0 }, "", ""},
		{"negative retry interval", func(c *Config) { c.Schedule.RetryInterval = -time.Minute }, "schedule.retryInterval", "below 1m"},
		{"retry interval of seconds", func(c *Config) { c.Schedule.RetryInterval = 30 * time.Second }, "schedule.retryInterval", "below 1m"},
		{"no retry interval", func(c *Config) { c.Schedule.RetryInterval = 0 }, "", ""},
		{"retry interval of a minute", func(c *Config) { c.Schedule.RetryInterval = time.Minute }, "", ""},
		{"no lease clock skew", func(c *Config) { c.Schedule.LeaseMaxSkew = 0 }, "schedule.leaseMaxSkew", "outside 1s to 1h"},
		{"lease clock skew of a day", func(c *Config) { c.Schedule.LeaseMaxSkew = 24 * time.Hour }, "schedule.leaseMaxSkew", "outside 1s to 1h"},
		{"lease clock skew of 5m", func(c *Config) { c.Schedule.LeaseMaxSkew = 5 * time.Minute }, "", ""},
		{"addr without colon", func(c *Config) { c.HTTP.Addr = "8080" }, "http.addr", "not host:port"},
		{"addr random port", func(c *Config) { c.HTTP.Addr = "127.0.0.1:0" }, "", ""},
		{"metricsAddr without colon", func(c *Config) { c.HTTP.MetricsAddr = "9090" }, "http.metricsAddr", "not host:port"},
		{"metricsAddr is addr", func(c *Config) { c.HTTP.MetricsAddr = c.HTTP.Addr }, "http.metricsAddr", "is http.addr too"},
		{"metricsAddr", func(c *Config) { c.HTTP.MetricsAddr = "127.0.0.1:9090" }, "", ""},
		{"negative auth failures", func(c *Config) { c.HTTP.AuthFailures = -1 }, "http.authFailures", "negative"},
		{"audit flush over a minute", func(c *Config) { c.Audit.FlushInterval = 2 * time.Minute }, "audit.flushInterval", "between 1s and 1m"},
		{"verify interval under a minute", func(c *Config) { c.Verify.Interval = time.Second }, "verify.interval", "at least 1m"},
		{"verify interval negative", func(c *Config) { c.Verify.Interval = -time.Hour }, "verify.interval", "at least 1m"},
		{"verify cycle shorter than interval", func(c *Config) { c.Verify.Cycle = time.Minute }, "verify.cycle", "shorter than verify.interval"},
		{"verify sample negative", func(c *Config) { c.Verify.Sample = -1 }, "verify.sample", "negative"},
		{"audit flush zero", func(c *Config) { c.Audit.FlushInterval = 0 }, "audit.flushInterval", "between 1s and 1m"},
		{"audit buffer too small", func(c *Config) { c.Audit.MaxPending = 10 }, "audit.maxPending", "not between 100 and 100000"},
		{"audit buffer past what a segment may hold", func(c *Config) { c.Audit.MaxPending = 1_000_000 }, "audit.maxPending", "not between 100 and 100000"},
		{"negative audit retention", func(c *Config) { c.Audit.RetentionDays = -1 }, "audit.retentionDays", "negative"},
		{"no header timeout", func(c *Config) { c.HTTP.ReadHeaderTimeout = 0 }, "http.readHeaderTimeout", "not positive"},
		{"no read timeout", func(c *Config) { c.HTTP.ReadTimeout = 0 }, "http.readTimeout", "not positive"},
		{"negative write timeout", func(c *Config) { c.HTTP.WriteTimeout = -time.Second }, "http.writeTimeout", "not positive"},
		{"no idle timeout", func(c *Config) { c.HTTP.IdleTimeout = 0 }, "http.idleTimeout", "not positive"},
		{"no connection cap", func(c *Config) { c.HTTP.MaxConnections = 0 }, "http.maxConnections", "not positive"},
		{"negative token concurrency", func(c *Config) { c.HTTP.TokenConcurrency = -1 }, "http.tokenConcurrency", "negative"},
		{"trusted proxy not an address", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "ingress.local"} }, "http.trustedProxies", "neither an IP address nor a CIDR prefix"},
		{"trusted proxies", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"} }, "", ""},
		{"verify first off", func(c *Config) { c.HTTP.VerifyFirstMaxSize = 0 }, "", ""},
		{"verify first negative", func(c *Config) { c.HTTP.VerifyFirstMaxSize = -1 }, "http.verifyFirstMaxSize", "negative"},
		{"verify first memory below one body", func(c *Config) { c.HTTP.VerifyFirstMemory = 1 << 20 }, "http.verifyFirstMemory", "at least one body"},
		{"verify first memory zero", func(c *Config) { c.HTTP.VerifyFirstMemory, c.HTTP.VerifyFirstMaxSize = 0, 0 }, "http.verifyFirstMemory", "positive"},
		{"tls cert without key", func(c *Config) { c.HTTP.TLS.CertFile = "tls.crt" }, "http.tls.keyFile", "set both or neither"},
		{"tls key without cert", func(c *Config) { c.HTTP.TLS.KeyFile = "tls.key" }, "http.tls.certFile", "set both or neither"},
		{"tls both", func(c *Config) { c.HTTP.TLS = TLS{CertFile: "tls.crt", KeyFile: "tls.key"} }, "", ""},
		{"smtp relay without sender", func(c *Config) { c.SMTP.Host = "mail.example" }, "smtp.from", "required when smtp.host is set"},
		{"smtp relay", func(c *Config) { c.SMTP.Host, c.SMTP.From = "mail.example", "Archive <a@acme.example>" }, "", ""},
		{"smtp user without password", func(c *Config) { c.SMTP.Host, c.SMTP.From, c.SMTP.Username = "m", "a@b.example", "u" }, "smtp.passwordFile", "smtp.username is set"},
		{"smtp bad security", func(c *Config) { c.SMTP.Security = "ssl" }, "smtp.security", `"ssl" is not one of`},
		{"smtp bad port", func(c *Config) { c.SMTP.Port = 70000 }, "smtp.port", "not a port"},
		{"smtp zero timeout", func(c *Config) { c.SMTP.Timeout = 0 }, "smtp.timeout", "not positive"},
		{"no export workers", func(c *Config) { c.Exports.Concurrency = 0 }, "exports.concurrency", "not between 1 and 64"},
		{"no work for a task", func(c *Config) { c.Exports.MaxScanEvents = 0 }, "exports.maxScanEvents", "not between"},
		{"too many ids", func(c *Config) { c.Exports.MaxIDs = 5000 }, "exports.maxIds", "not between"},
		{"no tasks per organization", func(c *Config) { c.Exports.MaxTasksPerOrg = 0 }, "exports.maxTasksPerOrg", "not between"},
		{"retention of a minute", func(c *Config) { c.Exports.Retention = time.Minute }, "exports.retention", "below 1h"},
		{"links outliving results", func(c *Config) { c.Exports.URLExpiry = 61 * 24 * time.Hour }, "exports.urlExpiry", "not between 1m and exports.retention"},
		{"base URL without scheme", func(c *Config) { c.Exports.BaseURL = "chatvault.example.com" }, "exports.baseURL", "not an http:// or https:// URL"},
		{"base URL with query", func(c *Config) { c.Exports.BaseURL = "https://x.example/?a=1" }, "exports.baseURL", "without query"},
		{"base URL with path", func(c *Config) { c.Exports.BaseURL = "https://x.example/chatvault" }, "", ""},
		{"group name", func(c *Config) { c.FS.Group = "chatvault-audit" }, "", ""},
		{"group id", func(c *Config) { c.FS.Group = "1001" }, "", ""},
		{"group with a space", func(c *Config) { c.FS.Group = "audit team" }, "fs.group", "neither a group name nor a numeric gid"},
		{"group id out of range", func(c *Config) { c.FS.Group = "99999999999" }, "fs.group", "neither a group name nor a numeric gid"},
		{"negative group id", func(c *Config) { c.FS.Group = "-1" }, "fs.group", "neither a group name nor a numeric gid"},
		{"attachments on with hosts", func(c *Config) {
			c.Attachments.Enabled, c.Attachments.AllowedHosts = true, []string{"files.example", "[::1]:8443"}
		}, "", ""},
		{"attachments on without hosts", func(c *Config) { c.Attachments.Enabled = true }, "attachments.allowedHosts", "is empty but attachments.enabled is set"},
		{"allowed host with a scheme", func(c *Config) { c.Attachments.AllowedHosts = []string{"https://files.example"} }, "attachments.allowedHosts", "not an exact host[:port]"},
		{"allowed host with a wildcard", func(c *Config) { c.Attachments.AllowedHosts = []string{"*.example"} }, "attachments.allowedHosts", "not an exact host[:port]"},
		{"allowed host with a path", func(c *Config) { c.Attachments.AllowedHosts = []string{"files.example/d"} }, "attachments.allowedHosts", "not an exact host[:port]"},
		{"allowed host with port 0", func(c *Config) { c.Attachments.AllowedHosts = []string{"files.example:0"} }, "attachments.allowedHosts", "port 0 is not between"},
		{"allowed host with an underscore", func(c *Config) { c.Attachments.AllowedHosts = []string{"files_example"} }, "attachments.allowedHosts", "not a host name"},
		{"token host not allowed", func(c *Config) {
			c.Attachments.AllowedHosts, c.Attachments.TokenHosts = []string{"files.example"}, []string{"cdn.example"}
		}, "attachments.tokenHosts", "not on attachments.allowedHosts"},
		{"token host with a scheme", func(c *Config) { c.Attachments.TokenHosts = []string{"https://files.example"} }, "attachments.tokenHosts", "not an exact host[:port]"},
		{"attachments concurrency 0", func(c *Config) { c.Attachments.Concurrency = 0 }, "attachments.concurrency", "not between 1 and 64"},
		{"attachments max size 0", func(c *Config) { c.Attachments.MaxSize = 0 }, "attachments.maxSize", "not positive"},
		{"attachments no timeout", func(c *Config) { c.Attachments.Timeout = 0 }, "attachments.timeout", "not positive"},
		{"attachments negative retry", func(c *Config) { c.Attachments.RetryFor = -time.Hour }, "attachments.retryFor", "negative"},
		{"attachments negative retry spacing", func(c *Config) { c.Attachments.RetryEvery = -time.Hour }, "attachments.retryEvery", "negative"},
		{"store is the event log", func(c *Config) { c.EventLog, c.Store = "/data/events", "/data/events/" }, "store", "is the event log"},
		{"store inside the event log", func(c *Config) { c.EventLog, c.Store = "/data/events", "/data/events/archive" }, "store", "inside the event log"},
		{"event log inside the store", func(c *Config) { c.EventLog, c.Store = "/data/archive/events", "/data/archive" }, "eventlog", "inside the store"},
		{"temp dir inside a partition", func(c *Config) { c.EventLog, c.Export.TempDir = "/data/events", "/data/events/2026-11-22" }, "export.tempDir", "inside the event log"},
		{"temp dir inside the store", func(c *Config) { c.Store, c.Export.TempDir = "/data/archive", "/data/archive/tmp" }, "export.tempDir", "inside the store"},
		{"relative temp dir inside the event log", func(c *Config) { c.Export.TempDir = "events/../events/tmp" }, "export.tempDir", "inside the event log"},
		{"folders sharing a name's start", func(c *Config) {
			c.EventLog, c.Store, c.Export.TempDir = "/data/events", "/data/events-archive", "/data/events.tmp"
		}, "", ""},
		{"temp dir holding the event log and the store", func(c *Config) { c.EventLog, c.Store, c.Export.TempDir = "/tmp/e", "/tmp/a", "/tmp" }, "", ""},
		{"s3 store inside the event log's prefix", func(c *Config) { c.EventLog, c.Store = "s3://b/events", "s3://b/events/archive" }, "store", "inside the event log"},
		{"s3 store in an event log bucket", func(c *Config) { c.EventLog, c.Store = "s3://b", "s3://b/archive" }, "store", "inside the event log"},
		{"s3 event log inside the store", func(c *Config) { c.EventLog, c.Store = "s3://b/archive/events/", "s3://b/archive" }, "eventlog", "inside the store"},
		{"s3 prefixes sharing a name's start", func(c *Config) { c.EventLog, c.Store = "s3://b/events", "s3://b/events-archive" }, "", ""},
		{"s3 same prefix in two buckets", func(c *Config) { c.EventLog, c.Store = "s3://e/p", "s3://a/p" }, "", ""},
		{"s3 event log, folder store of the same name", func(c *Config) { c.EventLog, c.Store = "s3://b/p", "b/p/archive" }, "", ""},
		{"signing key in the store", func(c *Config) { c.Store, c.Signing.KeyFile = "/data/archive", "/data/archive/signing.pem" }, "signing.keyFile", "inside the store"},
		{"link key in the store", func(c *Config) { c.Store, c.Exports.LinkKeyFile = "/data/archive", "/data/archive/keys/links.key" }, "exports.linkKeyFile", "inside the store"},
		{"tokens file in the store", func(c *Config) { c.Store, c.Auth.TokensFile = "./archive/", "archive/tokens.json" }, "auth.tokensFile", "inside the store"},
		{"TLS key in the event log", func(c *Config) {
			c.EventLog, c.HTTP.TLS.CertFile, c.HTTP.TLS.KeyFile = "/data/events", "/etc/c.pem", "/data/events/k.pem"
		}, "http.tls.keyFile", "inside the event log"},
		{"smtp password in the store", func(c *Config) {
			c.Store, c.SMTP.Host, c.SMTP.From, c.SMTP.Username, c.SMTP.PasswordFile = "/a", "m", "a@b.example", "u", "/a/pw"
		}, "smtp.passwordFile", "inside the store"},
		{"attachment token in the store", func(c *Config) { c.Store, c.Attachments.TokenFile = "/a", "/a/t" }, "attachments.tokenFile", "inside the store"},
		{"secrets beside the store", func(c *Config) {
			c.Store, c.Signing.KeyFile, c.Auth.TokensFile = "/var/lib/chatvault/archive", "/etc/chatvault/signing.pem", "/var/lib/chatvault/tokens.json"
		}, "", ""},
		{"s3 store, keys in a folder of its name", func(c *Config) { c.Store, c.Signing.KeyFile = "s3://b/p", "b/p/signing.pem" }, "", ""},
		{"workers at the maximum", func(c *Config) { c.Export.Workers = MaxWorkers }, "", ""},
		{"workers above the maximum", func(c *Config) { c.Export.Workers = MaxWorkers + 1 }, "export.workers", "above the maximum of 32"},
		{"bad log level", func(c *Config) { c.Log.Level = "trace" }, "log.level", `"trace" is not one of debug, info, warn, error`},
		{"bad log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"xml" is not one of auto, text, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withLocations("./events", "./archive")
			tt.mutate(c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want an *Error wrapping ErrInvalid", err)
			}
			if ce.Key != tt.key {
				t.Errorf("error is about %q, want %q", ce.Key, tt.key)
			}
			prefix := "config: " + tt.key + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("Validate() = %q, want %q…%q", msg, prefix, tt.want)
			}
		})
	}
}

// TestLocationsNestedThroughASymlink: a store reached through a symbolic link to the event
// log is inside it, however its path is spelt; a folder not made yet is judged by the part
// of its path that exists.
func TestLocationsNestedThroughASymlink(t *testing.T) {
	root := t.TempDir()
	events := filepath.Join(root, "events")
	if err := os.Mkdir(events, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(events, link); err != nil {
		t.Fatal(err)
	}
	c := withLocations(events, filepath.Join(link, "not-made-yet", "archive"))
	err := c.Validate()
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "store" || !strings.Contains(err.Error(), "inside the event log") {
		t.Fatalf("store through a link into the event log: Validate() = %v, want a store error", err)
	}
	c = withLocations(events, filepath.Join(root, "archive"))
	c.Export.TempDir = filepath.Join(link, "2026-11-22")
	if err := c.Validate(); !errors.As(err, &ce) || ce.Key != "export.tempDir" {
		t.Fatalf("temp dir through a link into the event log: Validate() = %v, want an export.tempDir error", err)
	}
}

func TestCronScheduleDefaultsToUTC(t *testing.T) {
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("UTC+5", 5*3600))
	tests := []struct {
		cron string
		want time.Time
	}{
		{"30 0 * * *", time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC)},
		{"@daily", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		{"CRON_TZ=Asia/Tokyo 30 0 * * *", time.Date(2026, 3, 1, 15, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		s, err := Schedule{Cron: tt.cron}.CronSchedule()
		if err != nil {
			t.Fatalf("CronSchedule(%q): %v", tt.cron, err)
		}
		if got := s.Next(from); !got.Equal(tt.want) {
			t.Errorf("CronSchedule(%q).Next(%s) = %s, want %s", tt.cron, from, got.UTC(), tt.want)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	tests := map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	}
	for level, want := range tests {
		if got := (Log{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Key: "export.sortMemory", Err: errors.New("bad")}, "config: export.sortMemory: bad"},
		{&Error{Key: "store", Source: "--store", Err: errors.New("bad")}, "config: store (--store): bad"},
		{&Error{Source: "c.yaml", Err: errors.New("bad")}, "config: c.yaml: bad"},
		{&Error{Err: errors.New("bad")}, "config: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
