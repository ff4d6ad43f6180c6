package archiver

import "strings"

// The keys a Deleter may delete besides TasksPrefix's: the operational state of the
// processes that seal, never archive content. A lease link (package scheduler) is read
// only while it is its chain's last or next to last epoch's, and a watermark only while
// it is the newest within the scheduler's window; both would otherwise pile up for as long
// as the store lives (a lease link at every tick and renewal). Their janitors delete
// what no lookup reads again; an S3 bucket whose Object Lock keeps them refuses, and the
// lookups stay bounded by their key layouts all the same.
const (
	LeasesPrefix     = "leases/"
	WatermarksPrefix = "scheduler/watermarks/"
)

// Deletable reports whether a Deleter may delete key: under TasksPrefix, LeasesPrefix or
// WatermarksPrefix, and never a key with a ".." element.
func Deletable(key string) bool {
	if strings.Contains(key, "..") {
		return false
	}
	for _, p := range []string{TasksPrefix, LeasesPrefix, WatermarksPrefix} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
