package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHoldSharedObjectsS3 seals the sample day (Acme and Globex share its quarantine and
// accounting objects) into a MinIO bucket with Object Lock, and places and lifts legal
// holds with the CLI, checking each object's legal hold with the SDK: the shared objects
// stay held while any organization's matter holds the day, an organization's own objects
// while any of its matters does; hold --list shows what is in force and the history.
func TestHoldSharedObjectsS3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	const day = "2026-11-22"
	bucket := srv.Bucket(t, true)
	args := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + bucket + "/cv", "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, args...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	c := srv.Client()
	// held lists the objects whose legal hold is on, by class: "acme", "globex", "shared".
	held := func() map[string]int {
		t.Helper()
		got := map[string]int{}
		p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("cv/")})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(o.Key), "cv/")
				var class string
				switch {
				case strings.HasPrefix(key, "orgs/"+acme+"/"):
					class = "acme"
				case strings.HasPrefix(key, "orgs/"+globexID+"/"):
					class = "globex"
				case strings.HasPrefix(key, "quarantine/"), strings.HasPrefix(key, "accounting/"):
					class = "shared"
				case strings.HasPrefix(key, "holds/"):
					class = "events"
				default:
					t.Fatalf("unexpected object %s", key)
				}
				got[class+" objects"]++
				if class == "events" {
					continue
				}
				head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				if head.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn {
					got[class]++
				}
			}
		}
		return got
	}
	hold := func(org, matter, state string) string {
		t.Helper()
		code, out, errOut := chatvault(t, append([]string{"hold", "--org", org, "--matter", matter, "--date", day, state}, args...)...)
		if code != exitOK {
			t.Fatalf("hold %s %s %s: exit %d\n%s%s", org, matter, state, code, out, errOut)
		}
		return out
	}
	want := func(step string, acmeHeld, globexHeld, sharedHeld bool) {
		t.Helper()
		got := held()
		for class, on := range map[string]bool{"acme": acmeHeld, "globex": globexHeld, "shared": sharedHeld} {
			n := got[class+" objects"]
			if n < 2 {
				t.Fatalf("%s: only %d %s objects", step, n, class)
			}
			if wantN := map[bool]int{true: n, false: 0}[on]; got[class] != wantN {
				t.Errorf("%s: %d of %d %s objects under legal hold, want %d", step, got[class], n, class, wantN)
			}
		}
	}

	want("no hold", false, false, false)
	hold(acme, "case-1", "--on")
	want("A on", true, false, true)
	hold(globexID, "case-2", "--on")
	want("A on, B on", true, true, true)
	out := hold(acme, "case-1", "--off")
	want("A on, B on, A off", false, true, true)
	if !strings.Contains(out, "2 stay held by other holds") {
		t.Errorf("hold --off says %q, want the 2 shared objects kept", out)
	}
	reliability.Record(t, "security", "legal hold lifted by one organization on S3 while another holds the day", reliability.Kept,
		"the shared quarantine and accounting objects keep their S3 legal hold until the last hold on the day is lifted")
	hold(globexID, "case-2", "--off")
	want("both off", false, false, false)

	// Two matters of one organization.
	hold(acme, "case-1", "--on")
	hold(acme, "case-3", "--on")
	hold(acme, "case-1", "--off")
	want("A's case-3 still on", true, false, true)

	code, list, errOut := chatvault(t, append([]string{"hold", "--list"}, args...)...)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if code != exitOK || len(lines) != 2 || strings.Join(strings.Fields(lines[1])[:3], " ") != acme+" case-3 "+day {
		t.Errorf("hold --list: exit %d\n%s%s", code, list, errOut)
	}
	code, list, _ = chatvault(t, append([]string{"hold", "--list", "--org", globexID}, args...)...)
	if code != exitOK || strings.Count(list, "\n") != 1 {
		t.Errorf("hold --list --org globex: exit %d, want the header only:\n%s", code, list)
	}
	code, list, _ = chatvault(t, append([]string{"hold", "--list", "--history"}, args...)...)
	if code != exitOK || strings.Count(list, "\n") != 8 || strings.Count(list, " off ") != 3 {
		t.Errorf("hold --list --history: exit %d, want the 7 events:\n%s", code, list)
	}
	hold(acme, "case-3", "--off")
	want("all off", false, false, false)
	if n := held()["events objects"]; n != 8 {
		t.Errorf("%d hold events stored, want 8", n)
	}
}

// TestHoldReachesTheSealedVersionS3: someone with write access puts a second version under
// an export's key (Object Lock keeps the sealed version, which the manifest names and the
// API serves, but the key's current version is now theirs). A legal hold placed after
// that must still keep the sealed version beyond its retention: a hold set on the key's
// current version alone would hold the replacement and leave the sealed records to expire.
// Every version of a held key is held (the replacement is evidence too), and lifting the
// hold lifts it from every version.
func TestHoldReachesTheSealedVersionS3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	const day = "2026-11-22"
	bucket := srv.Bucket(t, true)
	args := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + bucket + "/cv", "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, args...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	c := srv.Client()
	var exportKey string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("cv/orgs/" + acme + "/days/" + day + "/events-")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			exportKey = aws.ToString(o.Key)
		}
	}
	if exportKey == "" {
		t.Fatal("no export object of Acme's day")
	}
	if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(exportKey),
		Body: strings.NewReader("not the sealed records")}); err != nil {
		t.Fatal(err)
	}
	versions, err := c.ListObjectVersions(t.Context(), &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(exportKey)})
	if err != nil || len(versions.Versions) != 2 {
		t.Fatalf("versions of %s: %v, %v", exportKey, versions, err)
	}
	heldVersions := func() (sealed, replacement bool) {
		t.Helper()
		for _, v := range versions.Versions {
			out, err := c.GetObjectLegalHold(t.Context(), &awss3.GetObjectLegalHoldInput{Bucket: aws.String(bucket), Key: aws.String(exportKey), VersionId: v.VersionId})
			on := err == nil && out.LegalHold != nil && out.LegalHold.Status == types.ObjectLockLegalHoldStatusOn
			if aws.ToBool(v.IsLatest) {
				replacement = on
			} else {
				sealed = on
			}
		}
		return sealed, replacement
	}
	for _, step := range []struct {
		state string
		want  bool
	}{{"--on", true}, {"--off", false}} {
		if code, out, errOut := chatvault(t, append([]string{"hold", "--org", acme, "--matter", "case-1", "--date", day, step.state}, args...)...); code != exitOK {
			t.Fatalf("hold %s: exit %d\n%s%s", step.state, code, out, errOut)
		}
		sealed, replacement := heldVersions()
		if sealed != step.want || replacement != step.want {
			t.Fatalf("after hold %s: the sealed version's legal hold is %v, the replacement's %v; want both %v",
				step.state, sealed, replacement, step.want)
		}
	}
	reliability.Record(t, "security", "legal hold placed after a second version was put under an export's key (S3)", reliability.Kept,
		"the hold is set on every version of each covered key, so the sealed version the manifest names is held, not only the replacement")
}
