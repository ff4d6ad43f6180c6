package deploy

import (
	"bytes"
	"crypto/sha256"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	chs3 "github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3PolicyAllowsChatvaultsDeletes puts deploy/s3-policy.example.json on a MinIO
// bucket, its principal made everyone, and has an anonymous client, which MinIO holds to
// the bucket policy, do what chatvault deletes: an expired task result (serve's export
// janitor), an old lease link (the lease's pruning) and an old scheduler watermark (the
// scheduler's janitor), through chatvault's own S3 store (which lists the key's versions,
// then deletes each). The example denied every delete outside tasks/ to everyone, so on
// AWS the janitors' deletes of leases/ and scheduler/watermarks/ were refused
// (AccessDenied) and the lease chains and watermarks were never pruned. A sealed object
// (orgs/…) must still be refused.
func TestS3PolicyAllowsChatvaultsDeletes(t *testing.T) {
	bucket, prefix := s3Example(t)
	b, err := os.ReadFile("s3-policy.example.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := miniotest.Start(t)
	name := srv.Bucket(t, true)
	doc := strings.ReplaceAll(string(b), "arn:aws:s3:::"+bucket, "arn:aws:s3:::"+name)
	doc = strings.ReplaceAll(doc, `{"AWS": "arn:aws:iam::123456789012:role/chatvault"}`, `{"AWS": ["*"]}`)
	ctx := t.Context()
	keys := map[string]bool{ // key under the store's prefix → chatvault deletes it
		archiver.TasksPrefix + "0a1c2e3f-0000-4000-8000-00000000aaaa/t1/result.jsonl.gz": true,
		archiver.LeasesPrefix + "scheduler/e/000000000/000000000001.json":                true,
		archiver.WatermarksPrefix + "2026-01-01/host.json":                               true,
		"orgs/0a1c2e3f-0000-4000-8000-00000000aaaa/d/2026/01/01.r0001.json":              false,
	}
	for k := range keys {
		body := []byte("{}\n")
		if _, err := srv.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(prefix + k), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Client().PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: aws.String(doc)}); err != nil {
		t.Fatalf("MinIO refuses the bucket policy: %v", err)
	}
	anon := awss3.New(awss3.Options{
		Region: miniotest.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials:                aws.AnonymousCredentials{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	store, err := chs3.NewStore(ctx, anon, name, prefix, chs3.Options{})
	if err != nil {
		t.Fatalf("chatvault's S3 store under the policy: %v", err)
	}
	// The policy allows what chatvault writes, too: a lease link and a sealed object.
	for _, k := range []string{archiver.LeasesPrefix + "scheduler/e/000000000/000000000002.json", "orgs/x/d/2026/01/02.r0001.json"} {
		body := []byte("{}\n")
		if err := store.Create(ctx, k, bytes.NewReader(body), int64(len(body)), sha256.Sum256(body), archiver.CreateOptions{}); err != nil {
			t.Errorf("create %s under the policy: %v", k, err)
		}
	}
	for k, deletes := range keys {
		if !deletes {
			_, err := anon.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String(prefix + k)})
			if err == nil {
				t.Errorf("delete %s: allowed; the policy must deny deleting sealed objects", k)
			}
			continue
		}
		if err := store.Delete(ctx, k); err != nil {
			t.Errorf("chatvault's delete of %s refused by the policy: %v", k, err)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "S3 bucket policy example: the janitors' deletes of old lease links and scheduler watermarks", reliability.Kept,
			"TestS3PolicyAllowsChatvaultsDeletes: under the policy (MinIO, anonymous client) chatvault's store deletes under tasks/, leases/ and scheduler/watermarks/ and a sealed object's delete is refused; the example denied every delete outside tasks/, so the lease chains and watermarks were never pruned on AWS")
	}
}
