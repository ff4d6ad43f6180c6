package fsstore

import (
	"errors"
	"fmt"
	"os"
)

// ErrStoreMoved is returned (wrapped) by every Store call once the folder the Store has
// open is no longer the one at its path: moved, deleted or replaced while the process ran.
var ErrStoreMoved = errors.New("the store folder was moved or deleted while open; restart on the folder now at its path")

// checkHome fails with ErrStoreMoved when the folder at the Store's path is not the one
// it holds open (os.Root keeps the folder it opened, wherever it goes). Without it a
// long-running serve whose folder was moved aside (a backup restored in its place, say)
// went on sealing into the moved folder, where no run, verify or replica on the path
// looks, and a second sealer on the path would fork the chains; a deleted folder listed as
// empty and read as not found. Two stats: the check runs on every create, list and delete,
// and on a read only when the object is not found, so that reads keep their cost.
func (s *Store) checkHome() error {
	name := s.root.Name()
	at, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStoreMoved, name, err)
	}
	held, err := s.root.Stat(".")
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStoreMoved, name, err)
	}
	if !os.SameFile(at, held) {
		return fmt.Errorf("%w: %s is another folder now", ErrStoreMoved, name)
	}
	return nil
}
