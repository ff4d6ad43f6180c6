package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
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
}

// NewClient returns an S3 client. Checksums are computed only when an operation requires
// one: Store sets its SHA-256 checksums explicitly, and the SDK's default CRC32 on every
// upload would be a second, unasked-for checksum that some S3-compatible servers refuse.
func NewClient(ctx context.Context, cfg ClientConfig) (*awss3.Client, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	return awss3.NewFromConfig(ac, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if o.Retryer != nil {
			o.Retryer = cutResponseRetryer{o.Retryer}
		}
	}), nil
}

// cutResponseRetryer also retries a request whose response was cut mid-body. The SDK's
// standard retryer retries a connection cut before the status line, but not one cut while
// it decodes a 200's body ("deserialization failed … unexpected EOF"): a proxy or load
// balancer that drops the connection there would fail a CreateMultipartUpload or a
// listing, and with it the organization's day, on the first blip. Every request Store
// makes is safe to repeat: creates are conditional (If-None-Match), listings and reads
// have no effect, and an upload started twice leaves an incomplete upload that the
// bucket's AbortIncompleteMultipartUpload rule removes.
type cutResponseRetryer struct{ aws.Retryer }

func (r cutResponseRetryer) IsErrorRetryable(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || r.Retryer.IsErrorRetryable(err)
}

// GetAttemptToken passes the token bucket's accounting through when the wrapped retryer
// has one (aws.RetryerV2); without it, the SDK would fall back to the context-less form.
func (r cutResponseRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
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
