package s3

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/chatvault/chatvault/internal/reliability"
)

// A response cut while its body is decoded is retried (TestS3Faults in cmd/chatvault cuts
// a CreateMultipartUpload's 200 that way); a permanent error still is not.
func TestClientRetriesCutResponse(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	c, err := NewClient(context.Background(), ClientConfig{Region: "us-east-1", Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Options().Retryer
	cut := &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}
	if !r.IsErrorRetryable(cut) {
		t.Errorf("a response cut mid-body is not retried: %v", cut)
	}
	if r.IsErrorRetryable(errors.New("access denied")) {
		t.Error("an unclassified error is retried")
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "S3 store: a 200 response cut while its body is decoded (CreateMultipartUpload, listing)",
			reliability.Recovered, "retried like a connection cut before the status line; it failed the organization's day before")
	}
}
