package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHoldLayout3S3: on a MinIO bucket with Object Lock whose old-layout day (sealed by
// `run`) was followed by a day the writer sealed in layout 3, `hold --on` over both days
// puts the S3 legal hold on every object of the organization in both layouts, its members
// object included, and `--off` lifts it from all of them.
func TestHoldLayout3S3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	logDir := t.TempDir()
	for _, d := range []string{"2026-11-22", "2026-11-23"} {
		if err := os.CopyFS(filepath.Join(logDir, d), os.DirFS("../../testdata/eventlog/2026-11-22")); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "directory.json"), dir, 0o644); err != nil {
		t.Fatal(err)
	}
	bucket := srv.Bucket(t, true)
	args := []string{"--eventlog", logDir, "--store", "s3://" + bucket + "/cv", "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, args...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	st, err := s3.NewStore(t.Context(), srv.Client(), bucket, "cv", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	d23, _ := archiver.ParseDay("2026-11-23")
	s := &archiver.Sealer{Source: src, Store: st, Chain: ledger.Ledger{Store: st}, Options: archiver.Options{Layout: archiver.Layout3, TempDir: t.TempDir(),
		Now: func() time.Time { return time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC) }, Logger: slog.New(slog.DiscardHandler)}}
	res, err := s.Seal(t.Context(), d23, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Failed() {
		t.Fatalf("seal in layout 3: %s: %v", o.Org, o.Err)
	}

	c := srv.Client()
	// acmeHeld counts acme's objects by layout ("2", "3", "members") and how many are held.
	acmeHeld := func() (all, held map[string]int) {
		t.Helper()
		all, held = map[string]int{}, map[string]int{}
		p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("cv/orgs/" + acme + "/")})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(o.Key), "cv/")
				class := map[int]string{archiver.Layout2: "2", archiver.Layout3: "3"}[archiver.KeyLayout(key)]
				if strings.HasPrefix(key, archiver.MembersPrefix(acme)) {
					class = "members"
				}
				all[class]++
				head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				if head.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn {
					held[class]++
				}
			}
		}
		return all, held
	}
	hold := func(state string) {
		t.Helper()
		code, out, errOut := chatvault(t, append([]string{"hold", "--org", acme, "--matter", "case-1", "--from", "2026-11-22", "--to", "2026-11-23", state}, args...)...)
		if code != exitOK {
			t.Fatalf("hold %s: exit %d\n%s%s", state, code, out, errOut)
		}
	}
	hold("--on")
	all, held := acmeHeld()
	if all["2"] < 3 || all["3"] < 2 || all["members"] != 1 || all[""] != 0 {
		t.Fatalf("acme's objects by layout: %v", all)
	}
	for class, n := range all {
		if held[class] != n {
			t.Errorf("hold --on: %d of %d objects of class %q held", held[class], n, class)
		}
	}
	hold("--off")
	if _, held := acmeHeld(); len(held) != 0 {
		t.Errorf("hold --off: still held %v", held)
	}
	reliability.Record(t, "security", "legal hold on S3 of an old-layout day and a layout-3 day", reliability.Kept,
		"every object of the organization's days in both layouts, its members object included, gets the S3 legal hold and loses it with --off")
}
