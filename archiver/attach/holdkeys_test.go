package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// TestHoldKeysAgree: archiver's legal hold spells the attachment keys it holds itself
// (the root package never imports this one); they must be the keys capture writes.
func TestHoldKeysAgree(t *testing.T) {
	sum := sha256.Sum256([]byte("a file"))
	hexSum := hex.EncodeToString(sum[:])
	const url = "https://files.example/a.txt?sig=1"
	for _, day := range []string{"2026-01-01", "2026-11-22", "2027-12-31"} {
		d, err := archiver.ParseDay(day)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, got, want string }{
			{"index prefix", archiver.AttachmentIndexPrefix(acme, d), IndexPrefix(acme, d)},
			{"file", archiver.AttachmentFileKey(acme, hexSum), FileKey(acme, sum)},
			{"named record", archiver.AttachmentNamedKey(acme, hexSum, d), namedKey(acme, hexSum, d)},
			{"URL record", archiver.AttachmentURLKey(acme, url), urlKey(acme, url)},
			{"prefix", archiver.AttachmentsPrefix, Prefix},
		} {
			if c.got != c.want {
				t.Errorf("%s %s: archiver spells %q, attach writes %q", day, c.name, c.got, c.want)
			}
		}
	}
}
