package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
)

var _ archiver.FolderLister = (*Store)(nil)

// ListFolders implements archiver.FolderLister with ListObjectsV2's delimiter: the
// common prefixes under prefix, a thousand per page, without the keys below them.
func (s *Store) ListFolders(ctx context.Context, prefix string, fn func(name string) error) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("s3: list folders of %q: not a folder (ends with '/')", prefix)
	}
	if err := archiver.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("s3: list folders: %w", err)
	}
	full := s.prefix + prefix
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket:    aws.String(s.bucket),
		Prefix:    aws.String(full),
		Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		for attempt := 0; err != nil && cutAnswer(err) && attempt < 3; attempt++ {
			if werr := wait(ctx, attempt); werr != nil {
				return fmt.Errorf("s3: list folders %s: %w", prefix, werr)
			}
			page, err = p.NextPage(ctx)
		}
		if err != nil {
			return fmt.Errorf("s3: list folders %s: %w", prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), full), "/")
			if name == "" {
				continue
			}
			if err := fn(name); err != nil {
				return err
			}
		}
	}
	return nil
}
