package miniotest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// LegalHeld returns the keys under prefix in bucket with a version whose legal hold is on
// (GetObjectLegalHold of every version), without prefix: what a legal hold test checks
// against the server's own record rather than the store's.
func (s *Server) LegalHeld(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	c := s.Client()
	var out []string
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			lh, err := c.GetObjectLegalHold(t.Context(), &s3.GetObjectLegalHoldInput{Bucket: aws.String(bucket), Key: v.Key, VersionId: v.VersionId})
			var noHold interface{ ErrorCode() string }
			if errors.As(err, &noHold) && noHold.ErrorCode() == "NoSuchObjectLockConfiguration" {
				continue // never held
			}
			if err != nil {
				t.Fatal(err)
			}
			if lh.LegalHold.Status == types.ObjectLockLegalHoldStatusOn {
				out = append(out, strings.TrimPrefix(aws.ToString(v.Key), prefix))
			}
		}
	}
	return out
}

// DeleteVersion tries to delete the one version of key in bucket, as an operator with
// the bucket's credentials could, and reports whether the server let it: false while a
// legal hold or a retention keeps it.
func (s *Server) DeleteVersion(t testing.TB, bucket, key string) bool {
	t.Helper()
	c := s.Client()
	vs, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil || len(vs.Versions) != 1 {
		t.Fatalf("versions of %s: %v, %d", key, err, len(vs.Versions))
	}
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: vs.Versions[0].Key, VersionId: vs.Versions[0].VersionId})
	return err == nil
}

// Retention returns the Object Lock mode and retain-until date of key in bucket, as
// GetObjectRetention reads them: what a retention test checks against the server's own
// record rather than the store's.
func (s *Server) Retention(t testing.TB, bucket, key string) (mode string, until time.Time) {
	t.Helper()
	out, err := s.Client().GetObjectRetention(t.Context(), &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("retention of %s: %v", key, err)
	}
	return string(out.Retention.Mode), aws.ToTime(out.Retention.RetainUntilDate).UTC()
}
