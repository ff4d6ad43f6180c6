package archiver_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOversizedControlObjects: someone with write access to the store (no key) puts a
// huge object under a control object's key. Reading it whole used to read all of it
// into memory (gigabytes: a crash, not a reported problem); now each kind has a cap, the
// read stops just past it, and the error names the key, its kind and the cap. Counted:
// the bytes pulled from the store and the bytes allocated stay near the (lowered) cap,
// far below the object's size.
func TestOversizedControlObjects(t *testing.T) {
	const capBytes, size = 1 << 20, 64 << 20
	day, _ := archiver.ParseDay("2026-03-04")
	var sum [32]byte
	tests := []struct{ name, key, kind string }{
		{"chain entry", archiver.ChainKey("acme", 1), "manifest"},
		{"layout-3 day manifest", archiver.ManifestKey(3, "acme", day, 1), "manifest"},
		{"layout-2 day index", archiver.RevisionKey("acme", day, 1), "manifest"},
		{"late copy", archiver.LateKey("acme", 1), "manifest"},
		{"members object", archiver.MembersKey("acme", 2026, sum), "members object"},
		{"accounting object", archiver.AccountingPrefix + "2026-03-04/000001-" + "ab.json", "accounting"},
		{"audit segment", "audit/orgs/acme/2026-03-04/000000000001.jsonl", "audit segment"},
		{"audit day index marker", "audit/days-since.json", "small record"},
		{"checkpoint", "verifications/checkpoints/20260304T000000Z.json", "checkpoint"},
		{"attachment index", archiver.AttachmentsPrefix + "acme/index/2026-03-04/r0001.json", "attachment index"},
		{"layout marker", archiver.LayoutKey, "small record"},
		{"task request", archiver.TasksPrefix + "acme/t1/request.json", "small record"},
		{"lease record", archiver.LeasesPrefix + "seal/000000000001.json", "small record"},
		{"hold event", archiver.HoldsPrefix + "acme/m/x.json", "small record"},
		{"key rotation", archiver.RotationsPrefix + "a-b.json", "small record"},
		{"unknown control object", "something/else.json", "control object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer archiver.SetObjectCapForTest(tc.kind, capBytes)()
			st := &storetest.Oversized{Store: storetest.NewFolder(t), Sizes: map[string]int64{tc.key: size}}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := archiver.ReadAll(context.Background(), st, tc.key)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			var tooLarge *archiver.ObjectTooLargeError
			if !errors.As(err, &tooLarge) || !errors.Is(err, archiver.ErrObjectTooLarge) {
				t.Fatalf("ReadAll of a %d-byte object: err %v, want an ObjectTooLargeError (read %d bytes, allocated %d)",
					size, err, st.Served(), alloc)
			}
			if tooLarge.Key != tc.key || tooLarge.Kind != tc.kind || tooLarge.Cap != capBytes {
				t.Fatalf("error names %q, %q, %d; want %q, %q, %d", tooLarge.Key, tooLarge.Kind, tooLarge.Cap, tc.key, tc.kind, capBytes)
			}
			t.Logf("read %d bytes, allocated %d", st.Served(), alloc)
			if st.Served() > 2*capBytes || alloc > 8*capBytes {
				t.Fatalf("read %d bytes and allocated %d for a %d-byte object with a cap of %d", st.Served(), alloc, size, capBytes)
			}
		})
	}
	// The layout marker is read before anything else (seal, serve, verify, witness).
	defer archiver.SetObjectCapForTest("small record", capBytes)()
	st := &storetest.Oversized{Store: storetest.NewFolder(t), Sizes: map[string]int64{archiver.LayoutKey: size}}
	if _, err := archiver.ReadStoreLayout(context.Background(), st); !errors.Is(err, archiver.ErrObjectTooLarge) {
		t.Fatalf("ReadStoreLayout: %v, want ErrObjectTooLarge", err)
	}
	reliability.Record(t, "security", "a huge object under a control object's key (manifest, accounting object, audit segment, checkpoint, layout marker, lease, task, members, attachment index)",
		reliability.Refused, "read stops just past the kind's cap (manifest 16 MiB, accounting, audit segment, members, chat and attachment index 256 MiB, checkpoint 64 MiB, small records 1 MiB); "+
			"the error names the key, its kind and the cap; bytes read and allocated stay near the cap, not the object's size (before: all of it, 64× the cap)")
}
