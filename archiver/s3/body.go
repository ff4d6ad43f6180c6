package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// bodyResumes is how often a download cut mid-body is resumed before the error is
// returned. The SDK retries requests, but not a response body that breaks after the
// request succeeded, which on a long scan of a large event file is the likely failure.
const bodyResumes = 3

// getObject opens key for reading; with etag set, only that version of it (S3 answers
// 412 otherwise). The reader resumes from where it stopped when the connection breaks,
// with a ranged GET conditional on the same ETag, so a resumed read can never splice two
// different objects.
func getObject(ctx context.Context, client *awss3.Client, bucket, key string, etag *string) (io.ReadCloser, error) {
	out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: etag})
	if err != nil {
		return nil, err
	}
	return &resumingBody{ctx: ctx, client: client, bucket: bucket, key: key, etag: out.ETag, body: out.Body, size: objectSize(out)}, nil
}

// objectSize is the size of the object a whole-object GET answered with, -1 when the
// answer does not say. Every resumingBody must have it (its zero value would make every
// resumed answer's size a mismatch).
func objectSize(out *awss3.GetObjectOutput) int64 {
	if out.ContentLength != nil && out.ContentRange == nil {
		return *out.ContentLength
	}
	return -1
}

type resumingBody struct {
	ctx         context.Context // the caller's Open or Scan, which the reader belongs to
	client      *awss3.Client
	bucket, key string
	etag        *string
	versionID   *string // the version read, when one was asked for
	body        io.ReadCloser
	off         int64
	size        int64 // the object's size, from the first answer; -1 when unknown
	resumes     int
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.off += int64(n)
		if err == nil || err == io.EOF || n > 0 {
			if err != nil && err != io.EOF {
				// Deliver what arrived; the error shows again on the next Read.
				err = nil
			}
			return n, err
		}
		if b.resumes >= bodyResumes || b.etag == nil || b.ctx.Err() != nil {
			return 0, err
		}
		b.resumes++
		b.body.Close()
		out, gerr := b.client.GetObject(b.ctx, &awss3.GetObjectInput{
			Bucket:    aws.String(b.bucket),
			Key:       aws.String(b.key),
			VersionId: b.versionID,
			IfMatch:   b.etag,
			Range:     aws.String(fmt.Sprintf("bytes=%d-", b.off)),
		})
		if gerr == nil {
			gerr = b.checkRange(out.ContentRange)
			if gerr != nil {
				out.Body.Close()
			}
		}
		if gerr != nil {
			b.body = errBody{err}
			return 0, errors.Join(err, fmt.Errorf("resume at byte %d: %w", b.off, gerr))
		}
		b.body = out.Body
	}
}

// checkRange checks a resumed answer's Content-Range: it must run from the byte the read
// stopped at to the object's end. A server or caching proxy may ignore Range and send the
// whole object with a 200 (RFC 9110 allows it), or send another range; appending that body
// to what was read would return the object's start twice, or a torn one, without an error.
func (b *resumingBody) checkRange(cr *string) error {
	if cr == nil {
		return errors.New("the server ignored the range (no Content-Range in its answer): the rest of the object cannot be read")
	}
	var from, to, size int64
	if _, err := fmt.Sscanf(*cr, "bytes %d-%d/%d", &from, &to, &size); err != nil {
		return fmt.Errorf("unreadable Content-Range %q: %w", *cr, err)
	}
	if from != b.off || to != size-1 || (b.size >= 0 && size != b.size) {
		want := "*"
		if b.size >= 0 {
			want = fmt.Sprint(b.size)
		}
		return fmt.Errorf("the server answered Content-Range %q, not bytes %d-(end)/%s", *cr, b.off, want)
	}
	return nil
}

func (b *resumingBody) Close() error { return b.body.Close() }

// Size is the object's size, -1 when the answer did not say: a reader of the object whole
// allocates it once, and refuses one over its cap unread (archiver's capped reads).
func (b *resumingBody) Size() int64 { return b.size }

type errBody struct{ err error }

func (e errBody) Read([]byte) (int, error) { return 0, e.err }
func (e errBody) Close() error             { return nil }
