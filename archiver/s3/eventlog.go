package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
)

var _ archiver.Source = (*EventLog)(nil)

// EventLog is the platform's event log below an S3 prefix, with the layout of
// eventlog.Dir: <prefix>/<YYYY-MM-DD>/*.jsonl or *.jsonl.gz, a _CLOSED marker, and
// <prefix>/directory.json. S3 has no folders, so a partition exists when at least one
// object has its prefix. It is safe for concurrent use.
type EventLog struct {
	// MaxLineBytes is the longest line Scan delivers whole; zero means
	// eventlog.DefaultMaxLineBytes.
	MaxLineBytes int
	// Ignore are the path.Match patterns of the partition's side files, as in
	// eventlog.Dir.Ignore.
	Ignore []string

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

// Stat implements archiver.Source: it lists day's partition and sorts its entries as
// eventlog.Classify does. A "subfolder" (a key with a further "/" below the partition's
// prefix) is a folder: it is listed in Unread, as is every object that is neither an event
// file, the _CLOSED marker nor an ignored file.
func (l *EventLog) Stat(ctx context.Context, day archiver.Day) (archiver.Partition, error) {
	p, _, err := l.list(ctx, day)
	return p, err
}

// list lists day's partition, with the ETag of each of its entries but _CLOSED (a
// subfolder's is empty), which Scan compares before and after reading.
func (l *EventLog) list(ctx context.Context, day archiver.Day) (archiver.Partition, map[string]string, error) {
	if day.IsZero() {
		return archiver.Partition{}, nil, errors.New("s3: stat partition: zero day")
	}
	if err := eventlog.CheckIgnorePatterns(l.Ignore); err != nil {
		return archiver.Partition{}, nil, fmt.Errorf("s3: stat partition %s: %w", day, err)
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
		// S3's clock as the listing's Date shows it (whole seconds, so at most a second
		// behind): the grace of a partition without _CLOSED is counted on it too
		// (archiver.Partition.Clock), whatever this host's clock says.
		if at, ok := awsmiddleware.GetServerTime(page.ResultMetadata); ok && at.After(p.Clock) {
			p.Clock = at
		}
		for _, o := range page.Contents {
			base := strings.TrimPrefix(aws.ToString(o.Key), l.prefix+part)
			if base == "" && aws.ToInt64(o.Size) == 0 {
				// The empty object a console or "mkdir" tool makes to show the partition as a
				// folder: the partition itself, not an entry of it.
				continue
			}
			name := part + base
			kind, why := eventlog.Classify(base, 0, l.Ignore)
			if base == "" {
				kind, why = eventlog.Unread, fmt.Sprintf("an object named like the partition folder itself, holding %d bytes", aws.ToInt64(o.Size))
			}
			switch kind {
			case eventlog.Closed:
				p.Closed = true
				continue
			case eventlog.Event:
				p.Files = append(p.Files, name)
			case eventlog.Ignored:
				p.Ignored = append(p.Ignored, name)
			default:
				p.Unread = append(p.Unread, archiver.UnreadEntry{Name: name, Why: why})
			}
			etags[name] = aws.ToString(o.ETag)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimPrefix(aws.ToString(cp.Prefix), l.prefix)
			base := strings.TrimSuffix(strings.TrimPrefix(name, part), "/")
			_, why := eventlog.Classify(base, fs.ModeDir, l.Ignore)
			p.Unread = append(p.Unread, archiver.UnreadEntry{Name: name, Why: why})
			etags[name] = ""
		}
	}
	slices.Sort(p.Files)
	slices.Sort(p.Ignored)
	slices.SortFunc(p.Unread, func(a, b archiver.UnreadEntry) int { return strings.Compare(a.Name, b.Name) })
	if p.Closed || !p.Exists {
		p.Clock = time.Time{} // only a partition without the marker waits on it
	}
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

// Scan implements archiver.Source with eventlog's line scanner, streaming each object,
// then reads each ignored object whole to hash it. A missing partition is an error wrapping
// eventlog.ErrNoPartition, and one holding entries that are not read an
// *archiver.UnreadError naming them all, before any line is delivered. As eventlog.Dir
// does, it fails with an error wrapping eventlog.ErrPartitionChanged when the partition
// changed while it was read: each object, event or ignored, is read in the version listed
// (its ETag), and the partition is listed again at the end, so an object added, removed or
// replaced meanwhile is noticed rather than sealed as part of a day that never existed.
func (l *EventLog) Scan(ctx context.Context, day archiver.Day, fn func(archiver.Line) error) ([]archiver.IgnoredFile, error) {
	p, etags, err := l.list(ctx, day)
	if err != nil {
		return nil, err
	}
	if !p.Exists {
		return nil, fmt.Errorf("s3: scan %s: %w", day, eventlog.ErrNoPartition)
	}
	if len(p.Unread) > 0 {
		return nil, fmt.Errorf("s3: scan %s: %w", day, &archiver.UnreadError{Entries: p.Unread})
	}
	sc := eventlog.NewScanner(l.MaxLineBytes)
	for _, name := range p.Files {
		if err := l.scanObject(ctx, sc, name, etags[name], fn); err != nil {
			return nil, err
		}
	}
	var ignored []archiver.IgnoredFile
	for _, name := range p.Ignored {
		f, err := l.hashObject(ctx, name, etags[name])
		if err != nil {
			return nil, err
		}
		ignored = append(ignored, f)
	}
	_, now, err := l.list(ctx, day)
	if err != nil {
		return nil, err
	}
	if !maps.Equal(now, etags) {
		return nil, fmt.Errorf("s3: scan %s: %w: its objects were %s, now %s", day, eventlog.ErrPartitionChanged, describe(etags), describe(now))
	}
	return ignored, nil
}

// hashObject reads the ignored object name, in the version listed, whole.
func (l *EventLog) hashObject(ctx context.Context, name, etag string) (archiver.IgnoredFile, error) {
	body, err := getObject(ctx, l.client, l.bucket, l.prefix+name, aws.String(etag))
	if isNotFound(err) || httpStatus(err) == http.StatusPreconditionFailed {
		return archiver.IgnoredFile{}, fmt.Errorf("s3: get object %s: %w: it was removed or replaced since it was listed: %w", name, eventlog.ErrPartitionChanged, err)
	}
	if err != nil {
		return archiver.IgnoredFile{}, fmt.Errorf("s3: get object %s: %w", name, err)
	}
	defer body.Close()
	f, err := eventlog.HashIgnored(name, body)
	if err != nil {
		return archiver.IgnoredFile{}, fmt.Errorf("s3: %w", err)
	}
	return f, nil
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

// ObjectVersion returns what identifies the content of the object at key: its ETag and,
// in a versioned bucket, its version id. It changes when the object is replaced, so a
// reader may keep what it parsed until then (serve's copy of the directory snapshot).
func ObjectVersion(ctx context.Context, client *awss3.Client, bucket, key string) (string, error) {
	out, err := client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("s3: head object %s: %w", key, err)
	}
	return aws.ToString(out.ETag) + " " + aws.ToString(out.VersionId), nil
}

// ReadObject reads the object key of bucket whole, the directory snapshot, within
// archiver.DirectoryCap: whoever can write to the event log's bucket could put an object
// of any size there, and reading it whole would exhaust memory (a crash, not an error). An
// answer whose Content-Length is over the cap is refused before its body is read; one
// that says no size is read at most one byte past it (archiver.ReadCappedAs).
func ReadObject(ctx context.Context, client *awss3.Client, bucket, key string) ([]byte, error) {
	return ReadObjectCapped(ctx, client, bucket, key, archiver.DirectoryCap)
}

// ReadObjectCapped is ReadObject within max bytes (directory.maxSize); zero or less means
// archiver.DirectoryCap.
func ReadObjectCapped(ctx context.Context, client *awss3.Client, bucket, key string, max int64) ([]byte, error) {
	if max <= 0 {
		max = archiver.DirectoryCap
	}
	body, err := getObject(ctx, client, bucket, key, nil)
	if err != nil {
		return nil, fmt.Errorf("s3: get object %s: %w", key, err)
	}
	defer body.Close()
	b, err := archiver.ReadCappedAs(body, key, "directory snapshot", max)
	if err != nil {
		return nil, fmt.Errorf("s3: read object: %w", err)
	}
	return b, nil
}
