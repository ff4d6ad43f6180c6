package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestPartSizeAboveS3Maximum: s3.partSize had a minimum (5MiB) and no maximum. S3 refuses
// a part over 5GiB (EntityTooLarge), and the store keeps four buffers of partSize: 6GiB
// passed the check and meant 24GiB of buffers and uploads S3 refuses. Over 5GiB is
// refused at load.
func TestPartSizeAboveS3Maximum(t *testing.T) {
	clearEnv(t)
	for _, tt := range []struct {
		size string
		ok   bool
	}{{"5GiB", true}, {"64MiB", true}, {"6GiB", false}, {"5000MiB", true}, {"5121MiB", false}} {
		t.Setenv("CHATVAULT_S3_PARTSIZE", tt.size)
		_, err := Load(writeFile(t, "eventlog: ./ev\nstore: s3://b/p\n"), nil)
		if tt.ok != (err == nil) {
			t.Errorf("s3.partSize %s: %v", tt.size, err)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "s3.partSize")) {
			t.Errorf("s3.partSize %s: %v, want an error naming s3.partSize", tt.size, err)
		}
	}
	reliability.Record(t, "operations", "s3.partSize above S3's maximum part size (6GiB)", reliability.Refused,
		"exit 2 naming s3.partSize: S3 refuses parts over 5GiB, and the store keeps four buffers of this size; only the minimum (5MiB) was checked")
}
