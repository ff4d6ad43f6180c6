//go:build !linux

package fsstore

import (
	"errors"
	"os"
)

// canSyncFS is false: without syncfs a batch makes each create durable at once.
const canSyncFS = false

func syncFS(*os.File) error { return errors.New("syncfs is Linux only") }

func startWriteback(*os.File) error { return nil }

func deviceOf(*os.Root, string) (uint64, error) { return 0, nil }
