package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
)

// closedMarker is the object the producer writes when a partition is complete.
const closedMarker = "_CLOSED"

var _ archiver.Source = (*EventLog)(nil)

// EventLog is the platform's event log below an S3 prefix, with the layout of
// eventlog.Dir: <prefix>/<YYYY-MM-DD>/*.jsonl or *.jsonl.gz, a _CLOSED marker, and
// <prefix>/directory.json. S3 has no folders, so a partition exists when at least one
// object has its prefix. It is safe for concurrent use.
type EventLog struct {
	// MaxLineBytes is the longest line Scan delivers whole; zero means
	// eventlog.DefaultMaxLineBytes.
	MaxLineBytes int

	client *awss3.Client
	bucket string
	prefix string // "" or ends with "/"
}

// NewEventLog returns the event log in bucket below prefix.
func NewEventLog(client *awss3.Client, bucket, prefix string) *EventLog {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &EventLog{client: client, bucket: bucket, prefix: prefix}
}

// Stat implements archiver.Source: it lists day's partition. Objects in "subfolders" of
// the partition and names that are not event files are ignored, as in eventlog.Dir.
func (l *EventLog) Stat(ctx context.Context, day archiver.Day) (archiver.Partition, error) {
	p, _, err := l.list(ctx, day)
	return p, err
}

// list lists day's partition, with the ETag of each event file.
func (l *EventLog) list(ctx context.Context, day archiver.Day) (archiver.Partition, map[string]string, error) {
	if day.IsZero() {
		return archiver.Partition{}, nil, errors.New("s3: stat partition: zero day")
	}
	part := day.String() + "/"
	var p archiver.Partition
	etags := map[string]string{}
	pg := awss3.NewListObjectsV2Paginator(l.client, &awss3.ListObjectsV2Input{
		Bucket:    aws.String(l.bucket),
		Prefix:    aws.String(l.prefix + part),
		Delimiter: aws.String("/"),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return archiver.Partition{}, nil, fmt.Errorf("s3: list partition %s: %w", day, err)
		}
		if len(page.Contents) > 0 || len(page.CommonPrefixes) > 0 {
			p.Exists = true
		}
		for _, o := range page.Contents {
			base := strings.TrimPrefix(aws.ToString(o.Key), l.prefix+part)
			switch {
			case base == closedMarker:
				p.Closed = true
			case strings.HasPrefix(base, "."):
			case strings.HasSuffix(base, ".jsonl"), strings.HasSuffix(base, ".jsonl.gz"):
				p.Files = append(p.Files, part+base)
				etags[part+base] = aws.ToString(o.ETag)
			}
		}
	}
	slices.Sort(p.Files)
	return p, etags, nil
}

// Days lists the days that have a partition, oldest first, as eventlog.Dir.Days does.
// Names that are not days (YYYY-MM-DD) are ignored.
func (l *EventLog) Days(ctx context.Context) ([]archiver.Day, error) {
	var days []archiver.Day
	pg := awss3.NewListObjectsV2Paginator(l.client, &awss3.ListObjectsV2Input{
		Bucket:    aws.String(l.bucket),
		Prefix:    aws.String(l.prefix),
		Delimiter: aws.String("/"),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: list days: %w", err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), l.prefix), "/")
			if day, err := archiver.ParseDay(name); err == nil && day.String() == name {
				days = append(days, day)
			}
		}
	}
	// Fixed-width names sort chronologically, and S3 lists in byte order.
	return days, nil
}

// Scan implements archiver.Source with eventlog's line scanner, streaming each object. A
// missing partition is an error wrapping eventlog.ErrNoPartition. As eventlog.Dir does, it
// fails with an error wrapping eventlog.ErrPartitionChanged when the partition changed
// while it was read: each object is read in the version listed (its ETag), and the
// partition is listed again at the end, so an object added, removed or replaced meanwhile
// is noticed rather than sealed as part of a day that never existed.
func (l *EventLog) Scan(ctx context.Context, day archiver.Day, fn func(archiver.Line) error) error {
	p, etags, err := l.list(ctx, day)
	if err != nil {
		return err
	}
	if !p.Exists {
		return fmt.Errorf("s3: scan %s: %w", day, eventlog.ErrNoPartition)
	}
	sc := eventlog.NewScanner(l.MaxLineBytes)
	for _, name := range p.Files {
		if err := l.scanObject(ctx, sc, name, etags[name], fn); err != nil {
			return err
		}
	}
	_, now, err := l.list(ctx, day)
	if err != nil {
		return err
	}
	if !maps.Equal(now, etags) {
		return fmt.Errorf("s3: scan %s: %w: its objects were %s, now %s", day, eventlog.ErrPartitionChanged, describe(etags), describe(now))
	}
	return nil
}

// describe lists a partition's objects with their ETags, for an error message.
func describe(etags map[string]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(etags)) {
		parts = append(parts, name+" "+etags[name])
	}
	return strings.Join(parts, ", ")
}

func (l *EventLog) scanObject(ctx context.Context, sc *eventlog.Scanner, name, etag string, fn func(archiver.Line) error) error {
	body, err := getObject(ctx, l.client, l.bucket, l.prefix+name, aws.String(etag))
	if isNotFound(err) || httpStatus(err) == http.StatusPreconditionFailed {
		return fmt.Errorf("s3: get object %s: %w: it was removed or replaced since it was listed: %w", name, eventlog.ErrPartitionChanged, err)
	}
	if err != nil {
		return fmt.Errorf("s3: get object %s: %w", name, err)
	}
	defer body.Close()
	return sc.ScanFile(ctx, name, body, fn)
}

// ReadFile reads the object name, relative to the prefix, whole; it is meant for the
// directory snapshot (directory.json).
func (l *EventLog) ReadFile(ctx context.Context, name string) ([]byte, error) {
	return ReadObject(ctx, l.client, l.bucket, l.prefix+name)
}

// ReadObject reads the object key of bucket whole.
func ReadObject(ctx context.Context, client *awss3.Client, bucket, key string) ([]byte, error) {
	out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("s3: get object %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("s3: read object %s: %w", key, err)
	}
	return b, nil
}
