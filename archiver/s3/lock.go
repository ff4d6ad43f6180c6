package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/archiver"
)

var _ archiver.Locker = (*Store)(nil)

// Locking implements archiver.Locker: the bucket has Object Lock enabled.
func (s *Store) Locking() bool { return s.lock }

// Lock implements archiver.Locker with HeadObject.
func (s *Store) Lock(ctx context.Context, key string) (archiver.ObjectLock, error) {
	if err := archiver.CheckKey(key); err != nil {
		return archiver.ObjectLock{}, fmt.Errorf("s3: head object: %w", err)
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if isNotFound(err) {
		return archiver.ObjectLock{}, fmt.Errorf("s3: head object %s: %w", key, archiver.ErrNotFound)
	}
	if err != nil {
		return archiver.ObjectLock{}, fmt.Errorf("s3: head object %s: %w", key, err)
	}
	return archiver.ObjectLock{
		Mode:        string(out.ObjectLockMode),
		RetainUntil: aws.ToTime(out.ObjectLockRetainUntilDate),
		LegalHold:   out.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn,
	}, nil
}

// SetLegalHold implements archiver.Locker with PutObjectLegalHold on the key's current
// version. S3 requires a checksum on this request; the SDK adds one because the operation
// is marked as requiring it.
func (s *Store) SetLegalHold(ctx context.Context, key string, on bool) error {
	return s.SetLegalHoldVersion(ctx, key, "", on)
}

// Versions implements archiver.Locker with ListObjectVersions. S3 returns a page's
// versions and delete markers in two lists, each in key order; they are merged so that
// fn sees every key's entries together.
func (s *Store) Versions(ctx context.Context, prefix string, fn func(archiver.ObjectVersion) error) error {
	if err := archiver.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("s3: list object versions: %w", err)
	}
	p := awss3.NewListObjectVersionsPaginator(s.client, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: list object versions %s: %w", prefix, err)
		}
		vs, ms := page.Versions, page.DeleteMarkers
		for len(vs) > 0 || len(ms) > 0 {
			var v archiver.ObjectVersion
			if len(ms) == 0 || (len(vs) > 0 && aws.ToString(vs[0].Key) <= aws.ToString(ms[0].Key)) {
				v = archiver.ObjectVersion{Key: aws.ToString(vs[0].Key), VersionID: aws.ToString(vs[0].VersionId)}
				vs = vs[1:]
			} else {
				v = archiver.ObjectVersion{Key: aws.ToString(ms[0].Key), VersionID: aws.ToString(ms[0].VersionId), DeleteMarker: true}
				ms = ms[1:]
			}
			v.Key = strings.TrimPrefix(v.Key, s.prefix)
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetLegalHoldVersion implements archiver.VersionHolder: PutObjectLegalHold on one version
// of key (its current one when versionID is empty).
func (s *Store) SetLegalHoldVersion(ctx context.Context, key, versionID string, on bool) error {
	if err := archiver.CheckKey(key); err != nil {
		return fmt.Errorf("s3: put object legal hold: %w", err)
	}
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	in := &awss3.PutObjectLegalHoldInput{
		Bucket:    aws.String(s.bucket),
		Key:       aws.String(s.prefix + key),
		LegalHold: &types.ObjectLockLegalHold{Status: status},
	}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	_, err := s.client.PutObjectLegalHold(ctx, in)
	if isNotFound(err) {
		return fmt.Errorf("s3: put object legal hold %s version %s: %w: %w", key, versionID, archiver.ErrNotFound, err)
	}
	if err != nil {
		return fmt.Errorf("s3: put object legal hold %s version %s: %w", key, versionID, err)
	}
	return nil
}
