package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// decodeStrict reads file's JSON into v, refusing fields v does not have: the AWS SDK's
// types carry the field names of the JSON the AWS CLI reads (file://…), so a misspelt
// or misplaced key fails here as it would there.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// clearConfigEnv empties the configuration's environment variables, so that the examples
// are read as shipped; the test harness's own variables stay.
func clearConfigEnv(t *testing.T) {
	t.Helper()
	harness := []string{miniotest.EnvVar, reliability.EnvOut, "CHATVAULT_CHROMIUM", "CHATVAULT_VNU"}
	for _, k := range os.Environ() {
		name, _, _ := strings.Cut(k, "=")
		if strings.HasPrefix(name, "CHATVAULT_") && !slices.Contains(harness, name) {
			t.Setenv(name, "")
		}
	}
}

// s3Example returns the bucket and the key prefix (with its trailing slash) of the S3
// example configuration's store, which the lifecycle and policy examples are written for.
func s3Example(t *testing.T) (bucket, prefix string) {
	t.Helper()
	clearConfigEnv(t)
	c, err := config.Load("chatvault.s3.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(c.Store, "s3://")
	if !ok {
		t.Fatalf("store %q is not an s3:// location", c.Store)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if prefix != "" {
		prefix = strings.TrimSuffix(prefix, "/") + "/"
	}
	return bucket, prefix
}

// TestS3LifecycleExample checks deploy/s3-lifecycle.example.json: it decodes strictly into
// the SDK's BucketLifecycleConfiguration, an enabled rule aborts incomplete multipart
// uploads under every key the store writes (a crashed seal's upload of a day's export is
// under orgs/, not tasks/, and its parts are billed until aborted), and an S3 server
// (MinIO) accepts the configuration.
func TestS3LifecycleExample(t *testing.T) {
	var lc types.BucketLifecycleConfiguration
	decodeStrict(t, "s3-lifecycle.example.json", &lc)
	_, prefix := s3Example(t)

	covers := func(r types.LifecycleRule) bool {
		f := r.Filter
		if r.Status != types.ExpirationStatusEnabled || r.AbortIncompleteMultipartUpload == nil ||
			aws.ToInt32(r.AbortIncompleteMultipartUpload.DaysAfterInitiation) < 1 {
			return false
		}
		if f == nil {
			return true // no filter: the whole bucket
		}
		return f.Tag == nil && f.And == nil && f.ObjectSizeGreaterThan == nil && f.ObjectSizeLessThan == nil &&
			strings.HasPrefix(prefix, aws.ToString(f.Prefix))
	}
	if !slices.ContainsFunc(lc.Rules, covers) {
		t.Fatalf("no enabled rule aborts incomplete multipart uploads under the store's whole prefix %q", prefix)
	}
	tasks := func(r types.LifecycleRule) bool {
		return r.Filter != nil && aws.ToString(r.Filter.Prefix) == prefix+"tasks/" && r.Expiration != nil
	}
	if !slices.ContainsFunc(lc.Rules, tasks) {
		t.Fatalf("no rule expires export task results under %q", prefix+"tasks/")
	}

	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, true) // the archive bucket has Object Lock
	if _, err := srv.Client().PutBucketLifecycleConfiguration(t.Context(), &awss3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String(bucket), LifecycleConfiguration: &lc,
	}); err != nil {
		t.Fatalf("MinIO refuses the lifecycle configuration: %v", err)
	}
	got, err := srv.Client().GetBucketLifecycleConfiguration(t.Context(), &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range lc.Rules {
		if !slices.ContainsFunc(got.Rules, func(g types.LifecycleRule) bool { return aws.ToString(g.ID) == aws.ToString(r.ID) }) {
			t.Errorf("MinIO dropped rule %q", aws.ToString(r.ID))
		}
	}
	reliability.Record(t, "operations", "S3 lifecycle example: incomplete multipart uploads outside tasks/", reliability.Refused,
		"TestS3LifecycleExample fails unless an enabled rule aborts them under the store's whole prefix "+prefix+"; the example had it under "+prefix+"tasks/ only")
}

// TestS3PolicyExample checks deploy/s3-policy.example.json: valid JSON naming the example
// configuration's bucket and prefix, accepted as a bucket policy by an S3 server (MinIO).
func TestS3PolicyExample(t *testing.T) {
	type statement struct {
		Sid                   string
		Effect                string
		Principal             any
		Action                []string
		Resource, NotResource any
	}
	var policy struct {
		Version   string
		Statement []statement
	}
	decodeStrict(t, "s3-policy.example.json", &policy)
	bucket, prefix := s3Example(t)
	b, err := os.ReadFile("s3-policy.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:s3:::" + bucket + "/" + prefix; !bytes.Contains(b, []byte(want)) {
		t.Fatalf("the policy names no %s…: it is not written for the example configuration's store", want)
	}

	// A Deny on DeleteBucketPolicy alone is void: whoever may put a policy replaces it with
	// one without the denials. Denying both leaves the account's root user (AWS lets it
	// always put and delete a bucket policy) and organization-level controls.
	for _, action := range []string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"} {
		denied := slices.ContainsFunc(policy.Statement, func(s statement) bool {
			return s.Effect == "Deny" && s.Principal == "*" && slices.Contains(s.Action, action)
		})
		if !denied {
			t.Errorf("no statement denies %s to everyone", action)
		}
	}

	srv := miniotest.Start(t)
	name := srv.Bucket(t, true)
	doc := strings.ReplaceAll(string(b), "arn:aws:s3:::"+bucket, "arn:aws:s3:::"+name)
	// MinIO has no IAM roles of AWS accounts: the principal becomes everyone for the check.
	doc = strings.ReplaceAll(doc, `{"AWS": "arn:aws:iam::123456789012:role/chatvault"}`, `{"AWS": ["*"]}`)
	if _, err := srv.Client().PutBucketPolicy(t.Context(), &awss3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: aws.String(doc)}); err != nil {
		t.Fatalf("MinIO refuses the bucket policy: %v", err)
	}
	reliability.Record(t, "operations", "S3 bucket policy example: replacing the policy", reliability.Refused,
		"TestS3PolicyExample fails unless PutBucketPolicy is denied with DeleteBucketPolicy; the example denied only the delete, so any admin could put a policy without the denials (the account root always can: AWS)")
}
