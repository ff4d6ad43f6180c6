package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
)

var _ archiver.Deleter = (*Store)(nil)

// Delete implements archiver.Deleter: it removes an object under archiver.TasksPrefix (an
// export task's result past its retention) or a lease link or watermark no lookup reads
// again (archiver.Deletable), and refuses every other key.
//
// On a versioned bucket (every Object Lock bucket is one) a plain DeleteObject only adds a
// delete marker and the bytes stay, so Delete removes every version of the key. Task
// results are created without a retention date, so nothing locks them; a bucket whose
// default retention locks every object will refuse, and the error says so.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !archiver.Deletable(key) {
		return fmt.Errorf("s3: delete object %s: refused: only keys under %s (and the sealers' leases and watermarks) may be deleted", key, archiver.TasksPrefix)
	}
	objKey := s.prefix + key
	var versions []*string
	p := awss3.NewListObjectVersionsPaginator(s.client, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.bucket), Prefix: aws.String(objKey),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: delete object %s: list versions: %w", key, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == objKey {
				versions = append(versions, v.VersionId)
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == objKey {
				versions = append(versions, m.VersionId)
			}
		}
	}
	if len(versions) == 0 {
		return fmt.Errorf("s3: delete object %s: %w", key, archiver.ErrNotFound)
	}
	for _, v := range versions {
		in := &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(objKey)}
		if aws.ToString(v) != "" && aws.ToString(v) != "null" {
			in.VersionId = v
		}
		if _, err := s.client.DeleteObject(ctx, in); err != nil {
			return fmt.Errorf("s3: delete object %s: %w", key, err)
		}
	}
	return nil
}
