package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/crashpoint"
	"github.com/chatvault/chatvault/internal/panics"
)

const (
	// MinPartSize is S3's smallest part of a multipart upload (all but the last).
	MinPartSize = 5 << 20
	// DefaultPartSize and DefaultConcurrency bound a store's upload buffers to 32 MiB.
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 4
	// DefaultPresignExpiry is how long a presigned URL stays valid unless told otherwise.
	DefaultPresignExpiry = 15 * time.Minute

	// sumMeta is the user metadata key holding an object's full SHA-256 in hex. S3's own
	// checksum of a multipart object is a checksum of part checksums, which cannot be
	// compared with the caller's sum, so the full one travels beside it.
	sumMeta = "sha256"
	// abortTimeout bounds the clean-up of a failed multipart upload, which runs even when
	// the caller's context is cancelled: orphaned parts cost money and never expire alone.
	abortTimeout = time.Minute
	// maxParts is the most parts a multipart upload may have.
	maxParts = 10000
	// conflictRetries is how often a create retries S3's 409 ConditionalRequestConflict,
	// which S3 returns while another conditional write of the same key is in flight.
	conflictRetries = 5
)

var _ archiver.Store = (*Store)(nil)

// Options tune a Store; the zero value takes every default.
type Options struct {
	// PartSize is the size of a multipart upload's parts and the largest body sent in one
	// PutObject; 0 means DefaultPartSize. Values below MinPartSize are raised to it.
	PartSize int64
	// Concurrency is how many upload buffers of PartSize the store has; 0 means
	// DefaultConcurrency. They are shared by all uploads: the parts in flight and the
	// single-request objects being sent, so the store holds at most PartSize x Concurrency
	// bytes whatever the objects' sizes and however many are created at once.
	Concurrency int
	// PresignExpiry is the validity of PresignGet's URLs; 0 means DefaultPresignExpiry.
	PresignExpiry time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Store is an archiver.Store in an S3 bucket, below a key prefix. It is safe for
// concurrent use.
type Store struct {
	client      *awss3.Client
	presign     *awss3.PresignClient
	bucket      string
	prefix      string // "" or ends with "/"
	partSize    int64
	concurrency int
	expiry      time.Duration
	lock        bool
	log         *slog.Logger
	// bufs holds the store's upload buffers, Concurrency of them shared by every upload,
	// so memory stays within PartSize x Concurrency however many objects are created at
	// once. A nil entry is a buffer not allocated yet.
	bufs chan []byte
	// clock is the skew between S3's clock and this host's, from S3's answers (clock.go).
	clock storeClock
}

// NewStore returns the store in bucket below prefix. It asks the bucket once whether Object
// Lock is enabled; if it is, every object created with a CreateOptions.RetainUntil is
// locked in COMPLIANCE mode until then.
func NewStore(ctx context.Context, client *awss3.Client, bucket, prefix string, opt Options) (*Store, error) {
	s := &Store{
		client:      client,
		presign:     awss3.NewPresignClient(client),
		bucket:      bucket,
		prefix:      strings.Trim(prefix, "/"),
		partSize:    opt.PartSize,
		concurrency: opt.Concurrency,
		expiry:      opt.PresignExpiry,
		log:         opt.Logger,
	}
	if s.prefix != "" {
		s.prefix += "/"
	}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	s.partSize = max(s.partSize, MinPartSize)
	if s.concurrency <= 0 {
		s.concurrency = DefaultConcurrency
	}
	if s.expiry <= 0 {
		s.expiry = DefaultPresignExpiry
	}
	s.bufs = make(chan []byte, s.concurrency)
	for range s.concurrency {
		s.bufs <- nil
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("bucket", bucket, "prefix", s.prefix)
	out, err := client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)})
	switch {
	case errorCode(err) == "ObjectLockConfigurationNotFoundError":
	case err != nil:
		return nil, fmt.Errorf("s3: get object lock configuration of %s: %w", bucket, err)
	case out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled:
		s.lock = true
	}
	if err == nil {
		// S3's clock is known before the first create decides whether a retention is over.
		s.clock.observe(out.ResultMetadata)
	}
	s.log.Debug("s3 store opened", "objectLock", s.lock)
	return s, nil
}

// Bucket returns the store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// ObjectKey returns the S3 key of the store's key. Every method that takes a key checks
// it first (archiver.CheckKey): S3 keys are opaque strings, but "../" or "//" in one would
// name an object outside the store's prefix through proxies and servers that normalize
// paths, and a different object than the folder store's.
func (s *Store) ObjectKey(key string) string { return s.prefix + key }

// ObjectLock reports whether the bucket has Object Lock enabled.
func (s *Store) ObjectLock() bool { return s.lock }

// Create implements archiver.Store. Bodies up to the part size go in one PutObject; larger
// ones stream as a multipart upload. Both are conditional (If-None-Match: *) and carry
// SHA-256 checksums that S3 checks before keeping anything.
func (s *Store) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	_, err := s.CreateVersion(ctx, key, body, size, sum, opt)
	return err
}

// CreateVersion implements archiver.VersionCreator: Create, returning the version id S3
// gave the object (empty on a bucket without versioning).
func (s *Store) CreateVersion(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("s3: put object %s: %w", key, err)
	}
	if err := archiver.CheckKey(key); err != nil {
		return "", fmt.Errorf("s3: put object: %w", err)
	}
	if size < 0 {
		return "", fmt.Errorf("s3: put object %s: invalid size %d", key, size)
	}
	if size <= s.partSize {
		return s.put(ctx, key, body, size, sum, opt)
	}
	return s.putMultipart(ctx, key, body, size, sum, opt)
}

// put reads the whole body, checks it against size and sum, and sends it in one request.
func (s *Store) put(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	buf, err := s.acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("s3: put object %s: %w", key, err)
	}
	defer s.release(buf)
	// One byte more than size, to tell a longer body from an exact one.
	n, err := io.ReadFull(body, buf[:size+1])
	switch {
	case err == nil:
		return "", fmt.Errorf("s3: put object %s: body longer than %d bytes", key, size)
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return "", fmt.Errorf("s3: put object %s: read body: %w", key, err)
	case int64(n) != size:
		return "", fmt.Errorf("s3: put object %s: body has %d bytes, want %d", key, n, size)
	case sha256.Sum256(buf[:n]) != sum:
		return "", fmt.Errorf("s3: put object %s: body does not match its SHA-256 %x", key, sum)
	}
	in := &awss3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(s.prefix + key),
		ContentLength:     aws.Int64(size),
		ContentType:       aws.String(contentType(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		IfNoneMatch:       aws.String("*"),
		Metadata:          map[string]string{sumMeta: hex.EncodeToString(sum[:])},
	}
	if s.locks(opt.RetainUntil) {
		in.ObjectLockMode = types.ObjectLockModeCompliance
		in.ObjectLockRetainUntilDate = aws.Time(opt.RetainUntil.UTC())
	}
	var out *awss3.PutObjectOutput
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("s3: put object %s: %w", key, err)
		}
		in.Body = bytes.NewReader(buf[:n])
		out, err = s.client.PutObject(ctx, in)
		if httpStatus(err) == http.StatusConflict && attempt < conflictRetries {
			if err := wait(ctx, attempt); err != nil {
				return "", fmt.Errorf("s3: put object %s: %w", key, err)
			}
			continue
		}
		break
	}
	if httpStatus(err) == http.StatusPreconditionFailed {
		return s.compareExisting(ctx, key, sum, opt)
	}
	if err != nil {
		return "", fmt.Errorf("s3: put object %s: %w", key, err)
	}
	s.clock.observe(out.ResultMetadata)
	return versionOf(out.VersionId), nil
}

// putMultipart streams body as a multipart upload, at most s.concurrency parts in flight.
// Whatever goes wrong after the upload is created, the upload is aborted.
func (s *Store) putMultipart(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (version string, err error) {
	objKey := s.prefix + key
	in := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(objKey),
		ContentType:       aws.String(contentType(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		Metadata:          map[string]string{sumMeta: hex.EncodeToString(sum[:])},
	}
	if s.locks(opt.RetainUntil) {
		in.ObjectLockMode = types.ObjectLockModeCompliance
		in.ObjectLockRetainUntilDate = aws.Time(opt.RetainUntil.UTC())
	}
	created, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", fmt.Errorf("s3: create multipart upload %s: %w", key, err)
	}
	uploadID := created.UploadId
	aborted := false
	abort := func() error {
		aborted = true
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, err := s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(objKey), UploadId: uploadID,
		})
		if err != nil {
			return fmt.Errorf("s3: abort multipart upload %s: %w", key, err)
		}
		return nil
	}
	defer func() {
		if err != nil && !aborted {
			err = errors.Join(err, abort())
		}
	}()

	parts, err := s.uploadParts(ctx, key, objKey, uploadID, body, size, sum)
	if err != nil {
		return "", err
	}
	var out *awss3.CompleteMultipartUploadOutput
	for attempt := 0; ; attempt++ {
		out, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(objKey),
			UploadId:        uploadID,
			IfNoneMatch:     aws.String("*"),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		if httpStatus(err) == http.StatusConflict && attempt < conflictRetries {
			if werr := wait(ctx, attempt); werr != nil {
				return "", fmt.Errorf("s3: complete multipart upload %s: %w", key, werr)
			}
			continue
		}
		break
	}
	if httpStatus(err) == http.StatusPreconditionFailed {
		// The parts stay until aborted, even though the object was not created. Unless
		// this upload created it: a retry of a Complete whose answer was lost finds its
		// own object (412), and AWS S3 answers the abort of the completed upload 404
		// NoSuchUpload. Either way the upload is gone; compareExisting decides.
		if aerr := abort(); aerr != nil && errorCode(aerr) != "NoSuchUpload" {
			return "", aerr
		}
		return s.compareExisting(ctx, key, sum, opt)
	}
	if err != nil {
		return "", fmt.Errorf("s3: complete multipart upload %s: %w", key, err)
	}
	return versionOf(out.VersionId), nil
}

// uploadParts reads body part by part and uploads the parts concurrently, each in a buffer
// of the store's, released when the part is sent.
func (s *Store) uploadParts(ctx context.Context, key, objKey string, uploadID *string, body io.Reader, size int64, sum [sha256.Size]byte) ([]types.CompletedPart, error) {
	nparts := (size + s.partSize - 1) / s.partSize
	if nparts > maxParts {
		return nil, fmt.Errorf("s3: put object %s: %d bytes need %d parts of %d, more than S3's %d; raise s3.partSize",
			key, size, nparts, s.partSize, maxParts)
	}
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	h := sha256.New()
	lr := io.LimitReader(body, size+1) // one byte more tells a longer body
	var total int64
	var readErr error
	for num := int32(1); readErr == nil; num++ {
		buf, err := s.acquire(gctx)
		if err != nil {
			break // a part failed (Wait reports it) or ctx ended (checked below)
		}
		n, err := io.ReadFull(lr, buf[:s.partSize])
		total += int64(n)
		switch {
		case err == io.EOF:
			s.release(buf)
			readErr = io.EOF
			continue
		case err == io.ErrUnexpectedEOF:
			readErr = io.EOF // a short part is the last one
		case err != nil:
			s.release(buf)
			readErr = fmt.Errorf("s3: put object %s: read body: %w", key, err)
			continue
		}
		if total > size {
			s.release(buf)
			readErr = fmt.Errorf("s3: put object %s: body longer than %d bytes", key, size)
			continue
		}
		h.Write(buf[:n])
		part := buf[:n]
		g.Go(func() (err error) {
			defer s.release(buf)
			defer panics.Recover(&err) // a panic (a bug) is the part's error: the upload is aborted
			psum := sha256.Sum256(part)
			out, err := s.client.UploadPart(gctx, &awss3.UploadPartInput{
				Bucket:            aws.String(s.bucket),
				Key:               aws.String(objKey),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(num),
				Body:              bytes.NewReader(part),
				ContentLength:     aws.Int64(int64(len(part))),
				ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
				ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(psum[:])),
			})
			if err != nil {
				return fmt.Errorf("s3: upload part %d of %s: %w", num, key, err)
			}
			crashpoint.Hit("s3.part")
			parts[num-1] = types.CompletedPart{
				PartNumber:     aws.Int32(num),
				ETag:           out.ETag,
				ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(psum[:])),
			}
			return nil
		})
		if err := ctx.Err(); err != nil && readErr == nil {
			readErr = fmt.Errorf("s3: put object %s: %w", key, err)
		}
	}
	werr := g.Wait()
	switch {
	case readErr != io.EOF && readErr != nil:
		return nil, readErr
	case werr != nil:
		return nil, werr
	case ctx.Err() != nil:
		return nil, fmt.Errorf("s3: put object %s: %w", key, ctx.Err())
	case total != size:
		return nil, fmt.Errorf("s3: put object %s: body has %d bytes, want %d", key, total, size)
	case [sha256.Size]byte(h.Sum(nil)) != sum:
		return nil, fmt.Errorf("s3: put object %s: body does not match its SHA-256 %x", key, sum)
	}
	return parts, nil
}

// acquire takes one of the store's upload buffers, waiting while all are in use.
func (s *Store) acquire(ctx context.Context) ([]byte, error) {
	select {
	case buf := <-s.bufs:
		if buf == nil {
			// One byte more than a part: put reads size+1 bytes to spot a longer body.
			buf = make([]byte, s.partSize+1)
		}
		return buf, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Store) release(buf []byte) { s.bufs <- buf }

// compareExisting decides a create that S3 refused because the key exists: the same
// SHA-256 is an idempotent rerun, which returns the existing version's id, another one a
// conflict. With opt.Extend, the existing object's lock is lengthened to opt.RetainUntil
// when it ends before (from the HEAD made anyway: one PutObjectRetention only then).
func (s *Store) compareExisting(ctx context.Context, key string, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return "", fmt.Errorf("s3: put object %s: exists, and head object failed: %w", key, err)
	}
	s.clock.observe(out.ResultMetadata)
	var stored string
	for k, v := range out.Metadata {
		if strings.EqualFold(k, sumMeta) {
			stored = v
		}
	}
	if stored == "" {
		// No metadata: the object was put by another tool (a folder store moved here with
		// aws s3 sync or rclone, a backup restored by a plain upload). Its bytes decide, in
		// the version the HEAD saw: read once, on this rare path only. Before, the missing
		// metadata read as another SHA-256, a conflict at every create over such a key.
		got, err := s.hashVersion(ctx, key, versionOf(out.VersionId))
		if err != nil {
			return "", fmt.Errorf("s3: put object %s: exists without its SHA-256 metadata, and reading it failed: %w", key, err)
		}
		stored = got
	}
	if stored == hex.EncodeToString(sum[:]) {
		s.log.Debug("object exists with the same SHA-256", "key", key)
		if opt.Extend && s.locks(opt.RetainUntil) && aws.ToTime(out.ObjectLockRetainUntilDate).Before(opt.RetainUntil) {
			if err := s.putRetention(ctx, key, versionOf(out.VersionId), opt.RetainUntil); err != nil {
				return "", err
			}
		}
		return versionOf(out.VersionId), nil
	}
	return "", fmt.Errorf("s3: put object %s: stored SHA-256 %q, ours %x: %w", key, stored, sum, archiver.ErrConflict)
}

// hashVersion returns the hex SHA-256 of the version versionID of key (its current one
// when versionID is empty).
func (s *Store) hashVersion(ctx context.Context, key, versionID string) (string, error) {
	rc, err := s.OpenVersion(ctx, key, versionID)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Open implements archiver.Store. A download cut mid-body resumes where it stopped.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := archiver.CheckKey(key); err != nil {
		return nil, fmt.Errorf("s3: get object: %w", err)
	}
	body, err := getObject(ctx, s.client, s.bucket, s.prefix+key, nil)
	if isNotFound(err) {
		return nil, fmt.Errorf("s3: get object %s: %w", key, archiver.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("s3: get object %s: %w", key, err)
	}
	return body, nil
}

// List implements archiver.Store. S3 lists keys in UTF-8 byte order, which is the order
// List promises.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements archiver.AfterLister with ListObjectsV2's StartAfter: the listing
// starts past startAfter on the server, so its first page holds the first keys wanted,
// whatever came before them. A callback that stops early costs the pages read so far.
func (s *Store) ListAfter(ctx context.Context, prefix, startAfter string, fn func(key string) error) error {
	if err := archiver.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("s3: list objects: %w", err)
	}
	in := &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	}
	// A startAfter below the prefix starts nothing later than the prefix itself.
	if startAfter > prefix {
		in.StartAfter = aws.String(s.prefix + startAfter)
	}
	p := awss3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		// The SDK retries failed requests, but not an answer whose body was cut: the
		// paginator keeps its place until a page arrives whole, so ask for it again.
		for attempt := 0; err != nil && cutAnswer(err) && attempt < 3; attempt++ {
			if werr := wait(ctx, attempt); werr != nil {
				return fmt.Errorf("s3: list objects %s: %w", prefix, werr)
			}
			page, err = p.NextPage(ctx)
		}
		if err != nil {
			return fmt.Errorf("s3: list objects %s: %w", prefix, err)
		}
		s.clock.observe(page.ResultMetadata)
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if folderMarker(key, o.Size) {
				continue
			}
			if err := fn(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// folderMarker reports whether a listed key is the empty object a tool that shows a
// bucket as folders leaves for each folder (s3fs, the S3 console's "Create folder",
// Cyberduck): "orgs/<org>/d/", or the prefix itself (""). No object of the store's ends
// in "/" (archiver.CheckKey refuses the empty segment), so it is skipped, as the folder
// store skips folders; before, verify reported each as an object no manifest names, and
// an archive copied with such a tool never passed. A key so named that holds bytes is
// listed, for verify to report.
func folderMarker(key string, size *int64) bool {
	return (key == "" || strings.HasSuffix(key, "/")) && aws.ToInt64(size) == 0
}

// PresignGet returns a URL that downloads key's current version without credentials
// until expiry passes (Options.PresignExpiry when expiry is 0). PresignGetVersion pins one.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	return s.PresignGetVersion(ctx, key, "", expiry)
}

// cutAnswer reports whether err is an answer whose body could not be read whole (a
// connection cut mid-body): safe to ask again for a read.
func cutAnswer(err error) bool {
	var de *smithy.DeserializationError
	return errors.As(err, &de) || errors.Is(err, io.ErrUnexpectedEOF)
}

// wait backs off before retrying a conflicting conditional write.
func wait(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(50<<attempt) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNotFound(err error) bool {
	if err == nil || errorCode(err) == "NoSuchBucket" {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || httpStatus(err) == http.StatusNotFound
}
