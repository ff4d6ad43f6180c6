package archiver

import (
	"errors"
	"fmt"
)

// ErrUntrustedManifest is returned (wrapped) by Ledger.Latest, and so by OpenExport and
// Status, for a manifest that is not what its key says it is (another organization's,
// another day's or revision's) or, with Ledger.TrustedKeys, not signed by one of them.
// Someone with write access to the store put it there: a day's manifest names the hash of
// its export, so a forged manifest with a matching data object would otherwise pass every
// check of the bytes served.
var ErrUntrustedManifest = errors.New("manifest is not the one sealed there")

// checkLatest checks that m, read from key for org's day, is that day's sealed manifest.
func (l Ledger) checkLatest(m *StoredManifest, org string, day Day) error {
	if m.Org != org || m.Date != day.String() || m.Revision < 1 || revisionKey(org, day, m.Revision) != m.Key {
		return fmt.Errorf("%s: %w: it says organization %s, day %s, revision %d", m.Key, ErrUntrustedManifest, m.Org, m.Date, m.Revision)
	}
	if len(l.TrustedKeys) > 0 {
		if err := verifySignatureTrusted(m.Manifest, l.TrustedKeys); err != nil {
			return fmt.Errorf("%s: %w: %w", m.Key, ErrUntrustedManifest, err)
		}
	}
	return nil
}
