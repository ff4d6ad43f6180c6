package archiver

import "syscall"

// adviseHugePages asks Linux to back the arena b with 2 MiB pages where transparent huge
// pages are enabled for advised mappings (the "madvise" setting, the default of many
// distributions). The arenas are written once, front to back, during the read phase: with
// 4 KiB pages that is one page fault per 4 KiB, about 65,000 for a 256 MiB budget, and on
// a virtual machine each fault costs the hypervisor too. A profile of a 1M-event day put
// a tenth of the run's CPU in those faults (TestArenaAdvisedHugePages).
//
// Advice, not a promise: with huge pages off (or "never"), the arena works as before.
func adviseHugePages(b []byte) {
	if len(b) == 0 {
		return
	}
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
