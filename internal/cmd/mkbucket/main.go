// Command mkbucket creates an S3 bucket with Object Lock enabled, for scripts that need one
// on a local MinIO (scripts/bench.sh) where no S3 CLI may be installed. It reads the
// endpoint from CHATVAULT_S3_ENDPOINT and credentials from the standard AWS chain.
//
//	go run ./internal/cmd/mkbucket BUCKET
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver/s3"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkbucket BUCKET")
		os.Exit(2)
	}
	ctx := context.Background()
	c, err := s3.NewClient(ctx, s3.ClientConfig{Endpoint: os.Getenv("CHATVAULT_S3_ENDPOINT"), Region: "us-east-1", PathStyle: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkbucket:", err)
		os.Exit(1)
	}
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{
		Bucket: aws.String(os.Args[1]), ObjectLockEnabledForBucket: aws.Bool(true),
	}); err != nil {
		fmt.Fprintln(os.Stderr, "mkbucket:", err)
		os.Exit(1)
	}
}
