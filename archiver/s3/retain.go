package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/archiver"
)

var _ archiver.RetentionExtender = (*Store)(nil)

// ExtendRetention implements archiver.RetentionExtender: HeadObject, and when the lock
// ends before until, PutObjectRetention in COMPLIANCE mode until then. A bucket without
// Object Lock has nothing to extend.
func (s *Store) ExtendRetention(ctx context.Context, key string, until time.Time) error {
	if !s.locks(until) {
		return nil
	}
	l, err := s.Lock(ctx, key)
	if err != nil {
		return err
	}
	if !l.RetainUntil.Before(until) {
		return nil
	}
	return s.putRetention(ctx, key, "", until)
}

// putRetention locks key's version (its current one when versionID is empty) in
// COMPLIANCE mode until until.
func (s *Store) putRetention(ctx context.Context, key, versionID string, until time.Time) error {
	in := &awss3.PutObjectRetentionInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Retention: &types.ObjectLockRetention{
			Mode:            types.ObjectLockRetentionModeCompliance,
			RetainUntilDate: aws.Time(until.UTC()),
		},
	}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if _, err := s.client.PutObjectRetention(ctx, in); err != nil {
		return fmt.Errorf("s3: put object retention %s: %w", key, err)
	}
	return nil
}

// locks reports whether an object kept until until is locked: on a bucket with Object
// Lock, unless until is zero (no retention) or already over (archiver.RetentionOver: S3
// refuses a lock date in the past, and such a lock would keep nothing). Over on S3's
// clock (archiver.StoreNow), not this host's: a host ahead would store unlocked a day
// S3 would still keep, one behind would ask for a lock S3 refuses.
func (s *Store) locks(until time.Time) bool {
	return s.lock && !until.IsZero() && !archiver.RetentionOver(until, archiver.StoreNow(s))
}
