package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/chatvault/chatvault/archiver"
)

// ClientConfig is what NewClient needs; credentials are not part of it, they come from the
// standard AWS chain (environment, shared files, web identity, instance role).
type ClientConfig struct {
	// Endpoint is an S3-compatible server's base URL; empty means AWS.
	Endpoint string
	// Region is the bucket's region.
	Region string
	// PathStyle addresses buckets as endpoint/bucket.
	PathStyle bool
	// MaxAttempts is how many times one request is tried before its error is returned;
	// 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the wait before one retry; 0 means DefaultMaxBackoff. Tests set it
	// tiny, to ride out a burst of faults without waiting for it.
	MaxBackoff time.Duration
	// Logger receives a warning for every retry of a throttled request; nil discards them.
	Logger *slog.Logger
	// OnThrottle, when set, is called before every retry of a throttled request (to
	// count them in a metric).
	OnThrottle func()
}

const (
	// DefaultMaxAttempts is how many times a request is tried by default. The SDK's 3
	// gave up on a burst of 503 SlowDown (S3's "back off" answer) within 3 seconds, of
	// 500s within about 0.1s, failing an organization's day. With 10, a throttled request
	// waits before its retries a random part of 1, 2, 4, 8, 16, 20, 20, 20 and 20 seconds
	// (about 55s on average, 111s at most) before it fails; other retryable errors start
	// from 50ms (up to 25.5s in all).
	DefaultMaxAttempts = 10
	// DefaultMaxBackoff caps each wait: AWS asks for exponential backoff on SlowDown, and
	// 20s (the SDK's cap) keeps a request's worst case under two minutes.
	DefaultMaxBackoff = 20 * time.Second
)

// NewClient returns an S3 client. Checksums are computed only when an operation requires
// one: Store sets its SHA-256 checksums explicitly, and the SDK's default CRC32 on every
// upload would be a second, unasked-for checksum that some S3-compatible servers refuse.
func NewClient(ctx context.Context, cfg ClientConfig) (*awss3.Client, error) {
	ac, err := loadAWSConfig(ctx, cfg.Region)
	if err != nil {
		return nil, err
	}
	return awss3.NewFromConfig(ac, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.Retryer = newRetryer(cfg)
		o.APIOptions = append(o.APIOptions, addAttemptBound)
	}), nil
}

// loadAWSConfig loads the standard AWS configuration and credential chain, with one HTTP
// client for S3, STS and the instance's metadata (EC2 IMDS, which the chain's instance
// role provider builds from the configuration) and for the ECS and EKS credential
// endpoints: the SDK's default client, proxied by the environment except for the metadata
// addresses (see proxyFor).
func loadAWSConfig(ctx context.Context, region string) (aws.Config, error) {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = proxyFor(http.ProxyFromEnvironment)
	})
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region), awsconfig.WithHTTPClient(hc),
		awsconfig.WithEndpointCredentialOptions(func(o *endpointcreds.Options) { o.HTTPClient = hc }))
	if err != nil {
		return aws.Config{}, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	return ac, nil
}

// metadataAddrs are the AWS metadata and credential addresses outside the link-local
// ranges: EC2 IMDS and EKS Pod Identity over IPv6.
var metadataAddrs = []netip.Addr{netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("fd00:ec2::23")}

// proxyFor returns env (the environment's proxy, by Go's rules) for every request but
// those to a link-local address (169.254.169.254 of EC2 IMDS, 169.254.170.2 of ECS, and
// 169.254.170.23 of EKS Pod Identity among them) or to metadataAddrs, which go direct.
// Only the host itself reaches its metadata service: handed to an egress proxy (Go proxies
// any address but loopback when HTTP_PROXY is set, and operators set it beside
// HTTPS_PROXY), the instance role's credentials failed to load ("no EC2 IMDS role
// found", after seconds of retries through the proxy), or came from the metadata service
// of the proxy's own host, as that host's role.
func proxyFor(env func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		if a, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
			a = a.Unmap()
			if a.IsLinkLocalUnicast() || slices.Contains(metadataAddrs, a) {
				return nil, nil
			}
		}
		return env(req)
	}
}

// WithMaxAttempts returns ctx under which each S3 request is tried at most n times
// (including the first), when n is fewer than the client's MaxAttempts. A request that S3
// throttled (503 SlowDown) until its last attempt fails with an error that also matches
// archiver.ErrStoreBusy, under it or not. serve puts its API requests under it (s3.apiMaxAttempts):
// a client that waits for an answer, or a proxy with a 60s timeout, gives up long before
// the batch job's 10 attempts and their backoff (about 111s at most) run out; it gets 503
// with Retry-After instead, while the nightly seal keeps riding throttling out.
func WithMaxAttempts(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, maxAttemptsKey{}, n)
}

type maxAttemptsKey struct{}

// callAttempts counts the retries of one S3 operation under WithMaxAttempts; its retries
// run one after another, in the operation's goroutine.
type callAttempts struct {
	max     int
	retries int
}

type callAttemptsKey struct{}

// errAttemptsSpent refuses a retry past WithMaxAttempts.
var errAttemptsSpent = errors.New("s3: no retry left for this request (s3.apiMaxAttempts)")

// addAttemptBound adds to every operation's stack, outside the SDK's retry loop, the
// bound of WithMaxAttempts (a counter of the operation's retries that the retryer reads,
// GetRetryToken) and, under it or not, ErrStoreBusy on its error when S3 throttled it to
// its last attempt.
func addAttemptBound(stack *middleware.Stack) error {
	if _, ok := stack.Finalize.Get("Retry"); !ok {
		return nil // a presigner's stack: it sends nothing, and retries nothing
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("chatvault.attemptBound",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if n, ok := ctx.Value(maxAttemptsKey{}).(int); ok && n > 0 {
				ctx = context.WithValue(ctx, callAttemptsKey{}, &callAttempts{max: n})
			}
			out, md, err := next.HandleFinalize(ctx, in)
			switch {
			case err == nil:
			case throttled(err):
				err = busyError{err}
			case ctx.Err() == nil && unreachable(err):
				err = unreachableError{err}
			}
			return out, md, err
		}), "Retry", middleware.Before)
}

// throttled reports whether err is S3 asking the client to slow down: a throttling code
// (SlowDown and the SDK's other ones) or a 503.
func throttled(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary ||
		httpStatus(err) == http.StatusServiceUnavailable
}

// unreachable reports whether err, a request's error once its attempts ran out, says S3
// did not answer it: the request could not be sent or its answer never came (a refused or
// dropped connection, a timeout), or S3 answered a server error (500, 502, 504; a 503 is
// throttling). What S3 refused for the request's own sake (403, 404, 412) is not.
func unreachable(err error) bool {
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	switch httpStatus(err) {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// unreachableError is a request S3 did not answer until its attempts ran out: its message
// is the request's, and it matches archiver.ErrStoreUnreachable too.
type unreachableError struct{ err error }

func (e unreachableError) Error() string   { return e.err.Error() }
func (e unreachableError) Unwrap() []error { return []error{e.err, archiver.ErrStoreUnreachable} }

// busyError is a request S3 throttled until its attempts ran out: its message is the
// request's, and it matches archiver.ErrStoreBusy too.
type busyError struct{ err error }

func (e busyError) Error() string   { return e.err.Error() }
func (e busyError) Unwrap() []error { return []error{e.err, archiver.ErrStoreBusy} }

// newRetryer is the SDK's standard retryer with more attempts (see DefaultMaxAttempts)
// and without its client-side retry quota. That quota is a token bucket shared by every
// request of the client (500 tokens, 5 per retry, refunded only when the retry
// succeeds): built to stop a busy service's retry storm, it runs dry after about 25
// requests that each met a burst of throttling, and then fails requests without trying
// them again, so a long throttling episode failed the night's seal however many attempts
// were allowed. chatvault is a batch job whose load is already bounded (s3.partSize's
// four upload buffers, a few organizations at once), and each retry waits its backoff:
// the bound an operator reads is MaxAttempts per request, not a bucket's state.
func newRetryer(cfg ClientConfig) aws.Retryer {
	attempts, backoff := cfg.MaxAttempts, cfg.MaxBackoff
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return cutResponseRetryer{
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = backoff
			o.RateLimiter = ratelimit.None
		}),
		log:        log,
		onThrottle: cfg.OnThrottle,
	}
}

// cutResponseRetryer also retries a request whose response was cut mid-body. The SDK's
// standard retryer retries a connection cut before the status line, but not one cut while
// it decodes a 200's body ("deserialization failed … unexpected EOF"): a proxy or load
// balancer that drops the connection there would fail a CreateMultipartUpload or a
// listing, and with it the organization's day, on the first blip. Every request Store
// makes is safe to repeat: creates are conditional (If-None-Match), listings and reads
// have no effect, and an upload started twice leaves an incomplete upload that the
// bucket's AbortIncompleteMultipartUpload rule removes.
// It also logs every retry of a throttled request, so that an operator can tell a slow
// night caused by S3's throttling from one caused by the data.
type cutResponseRetryer struct {
	aws.Retryer
	log        *slog.Logger
	onThrottle func() // nil: not counted
}

func (r cutResponseRetryer) IsErrorRetryable(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || r.Retryer.IsErrorRetryable(err)
}

// RetryDelay is the wrapped retryer's; a throttled request's retry is logged first.
func (r cutResponseRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.Retryer.RetryDelay(attempt, err)
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		code := ""
		var api smithy.APIError
		if errors.As(err, &api) {
			code = api.ErrorCode()
		}
		r.log.Warn("s3: request throttled, backing off", "code", code, "attempt", attempt,
			"maxAttempts", r.MaxAttempts(), "backoff", d)
		if r.onThrottle != nil {
			r.onThrottle()
		}
	}
	return d, derr
}

// GetRetryToken refuses the retry of an operation under WithMaxAttempts once it has made
// its attempts; the SDK then returns the operation's last error with the refusal.
func (r cutResponseRetryer) GetRetryToken(ctx context.Context, opErr error) (func(error) error, error) {
	if c, ok := ctx.Value(callAttemptsKey{}).(*callAttempts); ok {
		c.retries++
		if c.retries >= c.max {
			return nil, errAttemptsSpent
		}
	}
	return r.Retryer.GetRetryToken(ctx, opErr)
}

// GetAttemptToken passes the token bucket's accounting through when the wrapped retryer
// has one (aws.RetryerV2); without it, the SDK would fall back to the context-less form.
// The SDK asks for it before every attempt, the first and each retry: a seal's commit
// point (archiver.CheckCommitDeadline) makes none past its lease's commit deadline, on the
// lease's clock, so that S3 throttling it cannot make it land once another sealer may
// hold the lease. The error is not retryable: the request ends with it.
func (r cutResponseRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if err := archiver.CheckCommitDeadline(ctx); err != nil {
		return nil, err
	}
	if v2, ok := r.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.Retryer.GetInitialToken(), nil
}

// ParseURL splits s3://bucket/prefix into its bucket and its prefix, without surrounding
// slashes.
func ParseURL(loc string) (bucket, prefix string, err error) {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("s3: %q is not s3://bucket/prefix", loc)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}
