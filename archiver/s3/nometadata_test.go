package s3_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCreateOverObjectWithoutSHA256Metadata: a folder store moved to S3 with the
// operator's tools (aws s3 sync of the folder, rclone, a backup restored by a plain
// upload) holds its objects without the "sha256" metadata chatvault writes. A create of
// the same bytes over such a key (a members object named again by a day whose
// organization's retention grew, which lengthens its lock) read the missing metadata as
// another SHA-256 and failed as a conflict, "stored SHA-256 \"\"", at every seal of the
// organization for the rest of the year. Without the metadata the stored bytes are hashed:
// the same bytes are a rerun, other bytes still a conflict.
func TestCreateOverObjectWithoutSHA256Metadata(t *testing.T) {
	srv := miniotest.Start(t)
	for _, lock := range []bool{false, true} {
		s := newStore(t, srv, lock, "moved")
		c := srv.Client()
		data := bytes.Repeat([]byte("members "), 1000)
		sum := sha256.Sum256(data)
		put, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(s.ObjectKey("orgs/o/members/2026/m.json")), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		opt := archiver.CreateOptions{}
		if lock {
			opt = archiver.CreateOptions{RetainUntil: time.Now().Add(48 * time.Hour), Extend: true}
		}
		v, err := s.CreateVersion(t.Context(), "orgs/o/members/2026/m.json", bytes.NewReader(data), int64(len(data)), sum, opt)
		if err != nil {
			t.Fatalf("lock %v: create of the same bytes over an object without the sha256 metadata: %v; want a rerun", lock, err)
		}
		if want := aws.ToString(put.VersionId); lock && v != want {
			t.Errorf("lock %v: version %q, want the stored %q", lock, v, want)
		}
		if lock {
			if mode, until := srv.Retention(t, s.Bucket(), s.ObjectKey("orgs/o/members/2026/m.json")); mode != "COMPLIANCE" || until.Before(opt.RetainUntil.Add(-time.Second)) {
				t.Errorf("the existing object's lock: %q until %s, want COMPLIANCE until %s", mode, until, opt.RetainUntil)
			}
		}
		other := bytes.Repeat([]byte("changed "), 1000)
		_, err = s.CreateVersion(t.Context(), "orgs/o/members/2026/m.json", bytes.NewReader(other), int64(len(other)), sha256.Sum256(other), archiver.CreateOptions{})
		if !errors.Is(err, archiver.ErrConflict) {
			t.Errorf("lock %v: create of other bytes over an object without the metadata: %v, want ErrConflict", lock, err)
		}
	}
	reliability.Record(t, "operations", "a folder store moved to S3 with aws s3 sync (objects without chatvault's sha256 metadata), then sealed into", reliability.Recovered,
		"a create over an existing key without the metadata hashes the stored bytes: the same bytes are a rerun (the lock lengthened as asked), other bytes a conflict; before, every such create was a conflict, and a members object named again after a retention grew failed the organization's seal for the rest of the year")
}
