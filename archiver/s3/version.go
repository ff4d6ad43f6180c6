package s3

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
)

var (
	_ archiver.VersionCreator  = (*Store)(nil)
	_ archiver.VersionOpener   = (*Store)(nil)
	_ archiver.VersionReporter = (*Store)(nil)
)

// versionOf is the version id S3 reported, or "" when the bucket keeps no versions: S3
// then omits it, and "null" (a bucket whose versioning was suspended) names whatever the
// key holds last, which pins nothing.
func versionOf(id *string) string {
	if v := aws.ToString(id); v != "null" {
		return v
	}
	return ""
}

// OpenVersion implements archiver.VersionOpener: GetObject of that version, resumed like
// Open's when the connection breaks.
func (s *Store) OpenVersion(ctx context.Context, key, versionID string) (io.ReadCloser, error) {
	if err := archiver.CheckKey(key); err != nil {
		return nil, fmt.Errorf("s3: get object: %w", err)
	}
	if versionID == "" {
		return s.Open(ctx, key)
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key), VersionId: aws.String(versionID),
	})
	// A version id another bucket gave (the archive was copied here) is NoSuchVersion on a
	// bucket that keeps versions; on one that keeps none, AWS refuses an id that is not
	// "null" as InvalidArgument ("Invalid version id specified"), the one argument of this
	// request that can be: not this bucket's either (ledger.Ledger.OpenObject).
	if isNotFound(err) || errorCode(err) == "NoSuchVersion" || errorCode(err) == "InvalidArgument" {
		return nil, fmt.Errorf("s3: get object %s version %s: %w", key, versionID, archiver.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("s3: get object %s version %s: %w", key, versionID, err)
	}
	return &resumingBody{ctx: ctx, client: s.client, bucket: s.bucket, key: s.prefix + key,
		etag: out.ETag, versionID: aws.String(versionID), body: out.Body, size: objectSize(out)}, nil
}

// CurrentVersion implements archiver.VersionReporter with HeadObject.
func (s *Store) CurrentVersion(ctx context.Context, key string) (string, error) {
	if err := archiver.CheckKey(key); err != nil {
		return "", fmt.Errorf("s3: head object: %w", err)
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if isNotFound(err) {
		return "", fmt.Errorf("s3: head object %s: %w", key, archiver.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("s3: head object %s: %w", key, err)
	}
	return versionOf(out.VersionId), nil
}

// PresignGetVersion is PresignGet of one version of key: the URL serves that version
// whatever is put under the key later. An empty versionID (a manifest sealed before
// version ids were recorded) presigns the key's first version on a versioned bucket:
// objects are created once, so the first is the one sealed, and a later one was put by
// someone else; without versioning, the object.
func (s *Store) PresignGetVersion(ctx context.Context, key, versionID string, expiry time.Duration) (string, error) {
	if err := archiver.CheckKey(key); err != nil {
		return "", fmt.Errorf("s3: presign get object: %w", err)
	}
	if versionID == "" {
		first, err := s.firstVersion(ctx, key)
		if err != nil {
			return "", err
		}
		versionID = first
	}
	if expiry <= 0 {
		expiry = s.expiry
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	req, err := s.presign.PresignGetObject(ctx, in, awss3.WithPresignExpires(expiry))
	if err != nil {
		return "", fmt.Errorf("s3: presign get object %s: %w", key, err)
	}
	return req.URL, nil
}

// firstVersion returns the oldest version of key that is not a delete marker, or "" when
// the bucket keeps no versions.
func (s *Store) firstVersion(ctx context.Context, key string) (string, error) {
	var first string
	var at time.Time
	p := awss3.NewListObjectVersionsPaginator(s.client, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + key),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("s3: list object versions %s: %w", key, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) != s.prefix+key {
				continue
			}
			// S3 lists a key's versions newest first: the last of equal times is the oldest.
			if t := aws.ToTime(v.LastModified); first == "" || !t.After(at) {
				first, at = versionOf(v.VersionId), t
			}
		}
	}
	return first, nil
}
