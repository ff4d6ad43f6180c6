package ledger

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
)

// Accountings calls fn with each accounting object of the day, oldest first.
func (l Ledger) Accountings(ctx context.Context, day archiver.Day, fn func(*archiver.StoredAccounting) error) error {
	var keys []string
	if err := l.Store.List(ctx, archiver.AccountingDayPrefix(day), func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return fmt.Errorf("list accounting of %s: %w", day, err)
	}
	for _, key := range keys {
		a, err := l.readAccounting(ctx, key)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (l Ledger) readAccounting(ctx context.Context, key string) (*archiver.StoredAccounting, error) {
	b, err := archiver.ReadAll(ctx, l.Store, key)
	if err != nil {
		return nil, err
	}
	a, err := archiver.DecodeAccounting(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &archiver.StoredAccounting{Accounting: a, Key: key, SHA256: sha256.Sum256(b)}, nil
}

// AccountingKeys calls fn with the key and day of every accounting object in the store,
// in key order (by day, then oldest first), without reading them: serve's freshness
// metrics read only the objects they have not seen (see scheduler.Freshness).
func (l Ledger) AccountingKeys(ctx context.Context, fn func(key string, day archiver.Day) error) error {
	return l.AccountingKeysFrom(ctx, archiver.Day{}, fn)
}

// AccountingKeysFrom is AccountingKeys for the days from `from` on (every day when from is
// zero): the listing starts there (ListAfter), so the days before it cost nothing.
func (l Ledger) AccountingKeysFrom(ctx context.Context, from archiver.Day, fn func(key string, day archiver.Day) error) error {
	startAfter := ""
	if !from.IsZero() {
		startAfter = archiver.AccountingPrefix + from.String() // the day's keys, <from>/…, sort after it
	}
	if err := archiver.ListAfter(ctx, l.Store, archiver.AccountingPrefix, startAfter, func(key string) error {
		day, _, _, ok := archiver.ParseAccountingKey(key)
		if !ok {
			return nil // not an accounting object; verify reports it
		}
		return fn(key, day)
	}); err != nil {
		return fmt.Errorf("list accounting: %w", err)
	}
	return nil
}

// ReadAccounting returns the accounting object at key (one AccountingKeys listed).
func (l Ledger) ReadAccounting(ctx context.Context, key string) (*archiver.StoredAccounting, error) {
	return l.readAccounting(ctx, key)
}
