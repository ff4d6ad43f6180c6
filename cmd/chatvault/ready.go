package main

import (
	"context"
	"errors"

	"github.com/chatvault/chatvault/archiver"
)

// errListed stops storeReachable's listing at its first key.
var errListed = errors.New("listed")

// storeReachable is /readyz's check of the store: a listing of leases/ that answers. It
// stops at the first key: the lease chains under leases/ grow by a link at every renewal
// (the verification lease's every verify.interval), and the probe runs every few seconds.
func storeReachable(ctx context.Context, store archiver.Store) error {
	err := store.List(ctx, "leases/", func(string) error { return errListed })
	if errors.Is(err, errListed) {
		return nil
	}
	return err
}
