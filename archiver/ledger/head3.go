package ledger

import (
	"context"

	"github.com/chatvault/chatvault/archiver"
)

// HeadTip returns org's chain head and its tip (the last manifest key under d/, "" when
// there is none): Head, and the tip it saw.
func (l Ledger) HeadTip(ctx context.Context, org string) (*archiver.StoredManifest, string, error) {
	head, err := l.Head(ctx, org)
	if err != nil {
		return nil, "", err
	}
	if hk, ok := archiver.HeadHintKeyOf(l.Store, org); ok {
		if v, ok := archiver.HeadHints.Load(hk); ok && v.Layout3 {
			return head, v.Tip, nil
		}
	}
	tip, _, err := l.findTip3(ctx, org)
	return head, tip, err
}
