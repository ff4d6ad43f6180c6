//go:build race

package exporttask_test

// raceEnabled: the race detector slows encoding/json tenfold, so the large-range test
// takes a smaller range under it (still large enough for its memory check).
const raceEnabled = true
