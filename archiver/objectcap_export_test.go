package archiver

// SetObjectCapForTest sets the cap of a kind of object read whole (objectCaps) and
// returns a func restoring it: tests offer objects past a lowered cap instead of
// hundreds of MiB.
func SetObjectCapForTest(kind string, n int64) (restore func()) {
	old, ok := objectCaps[kind]
	if !ok {
		panic("unknown object kind " + kind)
	}
	objectCaps[kind] = n
	return func() { objectCaps[kind] = old }
}
