package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

const (
	// ConfigFlag is the flag naming the config file, registered by BindFlags.
	ConfigFlag = "config"
	// ConfigEnv names the config file when neither Load's file argument nor --config does.
	ConfigEnv = "CHATVAULT_CONFIG"
	// EnvPrefix starts every key's environment variable.
	EnvPrefix = "CHATVAULT_"
)

// key describes one configuration key: its documented path, the shared flag that sets it
// (if any), and how a raw value from viper is stored into a Config.
type key struct {
	path  string
	flag  string
	usage string
	set   func(c *Config, raw any) error
}

// keys lists every key. Load binds each to its environment variable explicitly because
// viper's AutomaticEnv only sees keys it already knows from a file or a default, which
// would make the environment silently ignored when there is no file.
var keys = []key{
	{"eventlog", "eventlog", "event log: folder or s3://bucket/prefix", setString(func(c *Config) *string { return &c.EventLog })},
	{"directory", "directory", "directory snapshot (default <eventlog>/directory.json)", setString(func(c *Config) *string { return &c.Directory })},
	{"directory.maxSize", "", "", setSize(func(c *Config) *int64 { return &c.DirectoryMaxSize })},
	{"store", "store", "archive: folder or s3://bucket/prefix", setString(func(c *Config) *string { return &c.Store })},
	{"store.layout", "", "", setInt(func(c *Config) *int { return &c.StoreLayout })},
	{"s3.endpoint", "", "", setString(func(c *Config) *string { return &c.S3.Endpoint })},
	{"s3.region", "", "", setString(func(c *Config) *string { return &c.S3.Region })},
	{"s3.pathStyle", "", "", setBool(func(c *Config) *bool { return &c.S3.PathStyle })},
	{"s3.partSize", "", "", setSize(func(c *Config) *int64 { return &c.S3.PartSize })},
	{"s3.presignExpiry", "", "", setDuration(func(c *Config) *time.Duration { return &c.S3.PresignExpiry })},
	{"s3.maxAttempts", "", "", setInt(func(c *Config) *int { return &c.S3.MaxAttempts })},
	{"s3.maxBackoff", "", "", setDuration(func(c *Config) *time.Duration { return &c.S3.MaxBackoff })},
	{"s3.apiMaxAttempts", "", "", setInt(func(c *Config) *int { return &c.S3.APIMaxAttempts })},
	{"export.excludeContentTypes", "", "", setStrings(func(c *Config) *[]string { return &c.Export.ExcludeContentTypes })},
	{"export.sortMemory", "sort-memory", "memory budget of the external sort, such as 256MiB", setSize(func(c *Config) *int64 { return &c.Export.SortMemory })},
	{"export.tempDir", "temp-dir", "where the sort spills (default the system's temporary folder)", setString(func(c *Config) *string { return &c.Export.TempDir })},
	{"export.ignoreFiles", "", "", setStrings(func(c *Config) *[]string { return &c.Export.IgnoreFiles })},
	{"export.workers", "workers", "parallelism (0 means GOMAXPROCS; at most 32)", setInt(func(c *Config) *int { return &c.Export.Workers })},
	{"schedule.cron", "", "", setString(func(c *Config) *string { return &c.Schedule.Cron })},
	{"schedule.grace", "", "", setDuration(func(c *Config) *time.Duration { return &c.Schedule.Grace })},
	{"schedule.retryInterval", "", "", setDuration(func(c *Config) *time.Duration { return &c.Schedule.RetryInterval })},
	{"schedule.enabled", "", "", setBool(func(c *Config) *bool { return &c.Schedule.Enabled })},
	{"schedule.leaseMaxSkew", "", "", setDuration(func(c *Config) *time.Duration { return &c.Schedule.LeaseMaxSkew })},
	{"signing.keyFile", "", "", setString(func(c *Config) *string { return &c.Signing.KeyFile })},
	{"signing.publicKeyFile", "", "", setString(func(c *Config) *string { return &c.Signing.PublicKeyFile })},
	{"http.addr", "", "", setString(func(c *Config) *string { return &c.HTTP.Addr })},
	{"http.metricsAddr", "", "", setString(func(c *Config) *string { return &c.HTTP.MetricsAddr })},
	{"http.shutdownTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.HTTP.ShutdownTimeout })},
	{"http.tokenRate", "", "", setInt(func(c *Config) *int { return &c.HTTP.TokenRate })},
	{"http.tokenConcurrency", "", "", setInt(func(c *Config) *int { return &c.HTTP.TokenConcurrency })},
	{"http.trustedProxies", "", "", setStrings(func(c *Config) *[]string { return &c.HTTP.TrustedProxies })},
	{"http.clientRate", "", "", setInt(func(c *Config) *int { return &c.HTTP.ClientRate })},
	{"http.authFailures", "", "", setInt(func(c *Config) *int { return &c.HTTP.AuthFailures })},
	{"http.readHeaderTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout })},
	{"http.readTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.HTTP.ReadTimeout })},
	{"http.writeTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.HTTP.WriteTimeout })},
	{"http.idleTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout })},
	{"http.maxConnections", "", "", setInt(func(c *Config) *int { return &c.HTTP.MaxConnections })},
	{"http.verifyFirstMaxSize", "", "", setSize(func(c *Config) *int64 { return &c.HTTP.VerifyFirstMaxSize })},
	{"http.verifyFirstMemory", "", "", setSize(func(c *Config) *int64 { return &c.HTTP.VerifyFirstMemory })},
	{"http.tls.certFile", "", "", setString(func(c *Config) *string { return &c.HTTP.TLS.CertFile })},
	{"http.tls.keyFile", "", "", setString(func(c *Config) *string { return &c.HTTP.TLS.KeyFile })},
	{"auth.tokensFile", "", "", setString(func(c *Config) *string { return &c.Auth.TokensFile })},
	{"exports.concurrency", "", "", setInt(func(c *Config) *int { return &c.Exports.Concurrency })},
	{"exports.maxScanEvents", "", "", setInt(func(c *Config) *int { return &c.Exports.MaxScanEvents })},
	{"exports.maxIds", "", "", setInt(func(c *Config) *int { return &c.Exports.MaxIDs })},
	{"exports.maxTasksPerOrg", "", "", setInt(func(c *Config) *int { return &c.Exports.MaxTasksPerOrg })},
	{"exports.retention", "", "", setDuration(func(c *Config) *time.Duration { return &c.Exports.Retention })},
	{"exports.urlExpiry", "", "", setDuration(func(c *Config) *time.Duration { return &c.Exports.URLExpiry })},
	{"exports.baseURL", "", "", setString(func(c *Config) *string { return &c.Exports.BaseURL })},
	{"exports.linkKeyFile", "", "", setString(func(c *Config) *string { return &c.Exports.LinkKeyFile })},
	{"smtp.host", "", "", setString(func(c *Config) *string { return &c.SMTP.Host })},
	{"smtp.port", "", "", setInt(func(c *Config) *int { return &c.SMTP.Port })},
	{"smtp.from", "", "", setString(func(c *Config) *string { return &c.SMTP.From })},
	{"smtp.username", "", "", setString(func(c *Config) *string { return &c.SMTP.Username })},
	{"smtp.passwordFile", "", "", setString(func(c *Config) *string { return &c.SMTP.PasswordFile })},
	{"smtp.security", "", "", setString(func(c *Config) *string { return &c.SMTP.Security })},
	{"smtp.caFile", "", "", setString(func(c *Config) *string { return &c.SMTP.CAFile })},
	{"smtp.timeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.SMTP.Timeout })},
	{"audit.flushInterval", "", "", setDuration(func(c *Config) *time.Duration { return &c.Audit.FlushInterval })},
	{"audit.maxPending", "", "", setInt(func(c *Config) *int { return &c.Audit.MaxPending })},
	{"audit.retentionDays", "", "", setInt(func(c *Config) *int { return &c.Audit.RetentionDays })},
	{"verify.interval", "", "", setDuration(func(c *Config) *time.Duration { return &c.Verify.Interval })},
	{"verify.cycle", "", "", setDuration(func(c *Config) *time.Duration { return &c.Verify.Cycle })},
	{"verify.sample", "", "", setInt(func(c *Config) *int { return &c.Verify.Sample })},
	{"verify.witness", "", "", setString(func(c *Config) *string { return &c.Verify.Witness })},
	{"log.level", "log-level", "log level: debug, info, warn or error", setString(func(c *Config) *string { return &c.Log.Level })},
	{"log.format", "log-format", "log format: auto, text or json", setString(func(c *Config) *string { return &c.Log.Format })},
	{"fs.group", "", "", setString(func(c *Config) *string { return &c.FS.Group })},
}

// EnvVar returns the environment variable of a key path, such as CHATVAULT_S3_ENDPOINT for
// s3.endpoint.
func EnvVar(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// BindFlags registers --config and the flags every command shares on fs. Load reads them
// back from the same FlagSet; a flag overrides the environment and the file only when it
// was set on the command line. Keys without a flag are set in the file or the environment.
func BindFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "config file (YAML); env "+ConfigEnv)
	d := Default()
	for _, k := range keys {
		if k.flag == "" {
			continue
		}
		usage := k.usage + "; env " + EnvVar(k.path)
		switch k.path {
		case "export.workers":
			// An int flag lets pflag refuse "--workers=x" itself; the default shown is
			// the config's, not an override: an unset flag never overrides.
			fs.Int(k.flag, d.Export.Workers, usage)
		case "export.sortMemory":
			fs.String(k.flag, FormatSize(d.Export.SortMemory), usage)
		case "log.level":
			fs.String(k.flag, d.Log.Level, usage)
		case "log.format":
			fs.String(k.flag, d.Log.Format, usage)
		default:
			fs.String(k.flag, "", usage)
		}
	}
}

// Load reads the configuration: defaults, then the YAML file, then the environment, then
// the flags of flags that were set (flags may be nil). The file is file if not empty, else
// the --config flag, else $CHATVAULT_CONFIG; with none, there is no file. A named file must
// exist and parse and must hold only known keys.
//
// The result is resolved (directory derived from eventlog, log level and format
// lower-cased) and validated. Every error wraps ErrInvalid; several problems are joined.
func Load(file string, flags *pflag.FlagSet) (*Config, error) {
	if file == "" && flags != nil {
		if f := flags.Lookup(ConfigFlag); f != nil && f.Changed {
			file = f.Value.String()
		}
	}
	if file == "" {
		file = os.Getenv(ConfigEnv)
	}

	v := viper.New()
	v.SetConfigType("yaml")
	var fileV *viper.Viper // the file alone, for keys beside a value (shadowed)
	if file != "" {
		var err error
		if fileV, err = readFile(v, file); err != nil {
			return nil, err
		}
	}
	sources := map[string]string{}
	for _, k := range keys {
		env := EnvVar(k.path)
		if err := v.BindEnv(k.path, env); err != nil {
			return nil, &Error{Key: k.path, Err: err}
		}
		if v.InConfig(k.path) {
			sources[k.path] = file
		}
		if os.Getenv(env) != "" { // viper ignores empty variables too
			sources[k.path] = env
		}
		if flags == nil || k.flag == "" {
			continue
		}
		if f := flags.Lookup(k.flag); f != nil && f.Changed {
			// Set rather than BindPFlag: viper falls back to an unset flag's default
			// for keys without a viper default, which would let a flag's default beat
			// the file.
			v.Set(k.path, f.Value.String())
			sources[k.path] = "--" + k.flag
		}
	}

	c := Default()
	var errs []error
	// A removed key set in the environment is refused as in the file (readFile): kept in
	// a unit or a Deployment across an upgrade, it was ignored without a word.
	for _, k := range slices.Sorted(maps.Keys(removedKeys)) {
		if env := EnvVar(k); os.Getenv(env) != "" {
			errs = append(errs, &Error{Source: env, Err: fmt.Errorf("key %s was removed: %s", k, removedKeys[k])})
		}
	}
	failed := map[string]bool{}
	for _, k := range keys {
		raw := v.Get(k.path)
		if shadowed(k.path) {
			raw = nil
			if s := os.Getenv(EnvVar(k.path)); s != "" {
				raw, sources[k.path] = s, EnvVar(k.path)
			} else if fileV != nil && fileV.IsSet(k.path) {
				raw, sources[k.path] = fileV.Get(k.path), file
			}
		}
		if raw == nil { // not set anywhere, or null in the file: keep the default
			continue
		}
		if err := k.set(c, raw); err != nil {
			errs = append(errs, &Error{Key: k.path, Source: sources[k.path], Err: err})
			failed[k.path] = true
		}
	}
	c.resolve()
	for _, p := range c.problems() {
		if failed[p.Key] {
			continue // already reported as unparsable; its default is in c now
		}
		p.Source = sources[p.Key]
		errs = append(errs, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.Overrides = overrides(file, fileV) // override.go
	c.EnvTypos = envTypos()
	c.Defaulted = defaulted(file, sources)
	return c, nil
}

// shadowed reports whether a key's path extends another key's (store.layout beside
// store): viper hides it behind that key's value whenever the value comes from a flag or
// an environment binding, so Load reads it from the environment and the file itself.
func shadowed(path string) bool {
	for _, k := range keys {
		if strings.HasPrefix(path, k.path+".") {
			return true
		}
	}
	return false
}

// readFile loads file into v after checking that it holds only known keys, and returns
// the file alone (read into a viper of its own).
func readFile(v *viper.Viper, file string) (*viper.Viper, error) {
	// A device is no configuration: --config /dev/stdin with standard input closed or from
	// /dev/null read as an empty file, and the command ran on the sample's defaults (a
	// warning its only sign); /dev/zero was read until memory ran out. A pipe is read.
	if fi, err := os.Stat(file); err == nil && fi.Mode()&fs.ModeDevice != 0 {
		return nil, &Error{Source: file, Err: errors.New("a device, not a configuration file (standard input closed, or from /dev/null or a terminal?): give the file, or pipe it in")}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already the Error's Source
		}
		return nil, &Error{Source: file, Err: err}
	}
	if err := checkDocuments(b); err != nil { // documents.go
		return nil, &Error{Source: file, Err: err}
	}
	if err := checkFoldedKeys(b); err != nil { // documents.go
		return nil, &Error{Source: file, Err: err}
	}
	// A separate instance, because v's AllKeys would include bound environment variables.
	raw := viper.New()
	raw.SetConfigType("yaml")
	if err := raw.ReadConfig(bytes.NewReader(b)); err != nil {
		var pe viper.ConfigParseError
		if errors.As(err, &pe) {
			err = pe.Unwrap()
		}
		return nil, &Error{Source: file, Err: err}
	}
	var errs []error
	found := raw.AllKeys()
	slices.Sort(found) // deterministic messages
	for _, k := range found {
		if err := checkKey(k, raw.Get(k)); err != nil {
			errs = append(errs, &Error{Source: file, Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return raw, v.ReadConfig(bytes.NewReader(b))
}

// checkKey checks one flattened, lower-cased key of the file (viper folds case, so
// sortMemory and sortmemory are the same key). val is its value.
func checkKey(k string, val any) error {
	for _, known := range keys {
		// An exact match first: store.layout is a key of its own beside the value store.
		if k == strings.ToLower(known.path) {
			return nil
		}
	}
	for _, known := range keys {
		p := strings.ToLower(known.path)
		switch {
		case k == p:
			return nil
		case strings.HasPrefix(k, p+"."):
			return fmt.Errorf("%s: want a value, not a mapping", known.path)
		case strings.HasPrefix(p, k+"."):
			if val == nil {
				return nil // an empty section such as "signing:" is harmless
			}
			return fmt.Errorf("%s: want a mapping of its keys, not a value", sectionOf(known.path))
		}
	}
	if why, ok := removedKeys[k]; ok {
		return fmt.Errorf("key %s was removed: %s", k, why)
	}
	if s := suggest(k); s != "" {
		return fmt.Errorf("unknown key %s (did you mean %s?)", k, s)
	}
	return fmt.Errorf("unknown key %s", k)
}

// removedKeys are keys of earlier versions, lower-cased, and what replaced them: a file
// that still sets one is told why rather than only that the key is unknown.
var removedKeys = map[string]string{
	"exports.maxrangedays": "export tasks are bounded by the records they read, not by days: set exports.maxScanEvents",
}

func sectionOf(path string) string {
	s, _, _ := strings.Cut(path, ".")
	return s
}

// suggest returns the known key an unknown one was probably meant to be: a near miss in
// spelling, or the same leaf under another section. It returns "" when nothing is close.
func suggest(unknown string) string {
	best, bestDist := "", 3 // up to two edits
	leaf := unknown[strings.LastIndex(unknown, ".")+1:]
	for _, k := range keys {
		p := strings.ToLower(k.path)
		if d := editDistance(unknown, p); d < bestDist {
			best, bestDist = k.path, d
		}
	}
	if best != "" {
		return best
	}
	for _, k := range keys {
		p := strings.ToLower(k.path)
		if p[strings.LastIndex(p, ".")+1:] == leaf {
			return k.path
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// The setters convert a raw value as viper returns it (a YAML-typed value from the file, a
// string from the environment or a flag) without viper's Get* helpers, which turn a value
// they cannot convert into a zero: "grace: 1 hour" would become 0 instead of an error.

func setString(field func(*Config) *string) func(*Config, any) error {
	return func(c *Config, raw any) error {
		s, err := toString(raw)
		if err != nil {
			return err
		}
		*field(c) = s
		return nil
	}
}

func setBool(field func(*Config) *bool) func(*Config, any) error {
	return func(c *Config, raw any) error {
		switch v := raw.(type) {
		case bool:
			*field(c) = v
			return nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*field(c) = b
			return nil
		}
		return fmt.Errorf("%v is not true or false", raw)
	}
}

func setInt(field func(*Config) *int) func(*Config, any) error {
	return func(c *Config, raw any) error {
		switch v := raw.(type) {
		case int:
			*field(c) = v
			return nil
		case int64:
			if v >= math.MinInt && v <= math.MaxInt {
				*field(c) = int(v)
				return nil
			}
		case float64:
			if v == math.Trunc(v) && v >= math.MinInt32 && v <= math.MaxInt32 {
				*field(c) = int(v)
				return nil
			}
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				*field(c) = n
				return nil
			}
			return fmt.Errorf("%q is not an integer", v)
		}
		return fmt.Errorf("%v is not an integer", raw)
	}
}

func setSize(field func(*Config) *int64) func(*Config, any) error {
	return func(c *Config, raw any) error {
		switch v := raw.(type) {
		case int: // a plain YAML number is bytes
			if v >= 0 {
				*field(c) = int64(v)
				return nil
			}
		case int64:
			if v >= 0 {
				*field(c) = v
				return nil
			}
		case string:
			n, err := ParseSize(v)
			if err != nil {
				return err
			}
			*field(c) = n
			return nil
		}
		return fmt.Errorf("%v is not a size (use units like 64MiB)", raw)
	}
}

func setDuration(field func(*Config) *time.Duration) func(*Config, any) error {
	return func(c *Config, raw any) error {
		switch v := raw.(type) {
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration (use Go syntax like 90s or 1h)", v)
			}
			*field(c) = d
			return nil
		case int:
			if v == 0 { // "grace: 0" is unambiguous; any other bare number is not
				*field(c) = 0
				return nil
			}
		}
		return fmt.Errorf("%v is not a duration (use Go syntax like 90s or 1h)", raw)
	}
}

// setStrings takes a YAML list, or a comma-separated string from the environment.
func setStrings(field func(*Config) *[]string) func(*Config, any) error {
	return func(c *Config, raw any) error {
		var out []string
		switch v := raw.(type) {
		case string:
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		case []string:
			out = v
		case []any:
			for _, e := range v {
				s, err := toString(e)
				if err != nil {
					return err
				}
				out = append(out, s)
			}
		default:
			return fmt.Errorf("%v is not a list", raw)
		}
		if out == nil {
			out = []string{} // set to nothing, which differs from the default
		}
		*field(c) = out
		return nil
	}
}

func toString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case int, int64, float64, bool:
		// YAML reads "addr: 8080" as a number; keep what was written and let
		// validation say what is wrong with it.
		return fmt.Sprint(v), nil
	}
	if _, ok := raw.([]any); ok {
		return "", errors.New("want a single value, not a list")
	}
	return "", errors.New("want a single value, not a mapping")
}
