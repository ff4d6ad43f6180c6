package archiver

import (
	"fmt"
)

// WitnessAuditHead is one organization's access audit chain head: its newest segment. As
// each segment names its predecessor's SHA-256, matching the head's hash at its seq
// vouches for the whole audit chain up to it, as for manifests. Without it, deleting an
// organization's newest segments (or all of them) leaves a chain that holds together,
// and the store alone cannot show who read the archive and was erased from its audit.
// archiver/audit.Heads reads them from the store; Verify compares them with the chains it
// walks (through VerifyOptions.Audit).
type WitnessAuditHead struct {
	Org  string `json:"org"`
	Seq  int64  `json:"seq"`
	Date string `json:"date"`
	// SHA256 is the hex SHA-256 of the head segment as stored.
	SHA256 string `json:"sha256"`
}

// checkAuditHeads refuses malformed or repeated audit heads in a witness.
func checkAuditHeads(heads []WitnessAuditHead) error {
	seen := map[string]bool{}
	for _, h := range heads {
		switch {
		case h.Org == "" || h.Seq < 1 || len(h.SHA256) != 64:
			return fmt.Errorf("witness: malformed audit head %+v", h)
		case seen[h.Org]:
			return fmt.Errorf("witness: organization %s's audit chain twice", h.Org)
		}
		seen[h.Org] = true
	}
	return nil
}
