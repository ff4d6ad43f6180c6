package archiver

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestArenaAdvisedHugePages checks that a sort arena is a mapping advised for huge pages
// (VmFlags "hg" in /proc/self/smaps), whatever the machine's huge page setting: the advice
// is what chatvault controls; whether the kernel follows it is the operator's setting.
func TestArenaAdvisedHugePages(t *testing.T) {
	b, free, err := allocArena(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	flags, err := mappingFlags(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Fatalf("arena mapping VmFlags %q: not advised for huge pages (hg)", flags)
	}
}

// TestHeapAdvisedHugePages checks that AdviseHeap leaves a range of the Go heap advised
// for huge pages, as the arenas are (hugepages_linux.go).
func TestHeapAdvisedHugePages(t *testing.T) {
	beg, end := AdviseHeap(16 << 20)
	if end-beg < 8<<20 {
		t.Fatalf("advised %d bytes of a 16 MiB block, want at least 8 MiB (whole 2 MiB pages inside it)", end-beg)
	}
	for _, addr := range []uintptr{beg, end - 1} {
		flags, err := mappingFlags(addr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+flags+" ", " hg ") {
			t.Fatalf("heap mapping at %#x VmFlags %q: not advised for huge pages (hg)", addr, flags)
		}
	}
	if beg, end := AdviseHeap(1 << 20); beg != 0 || end != 0 {
		t.Errorf("AdviseHeap(1 MiB) advised %#x-%#x: a block smaller than two huge pages holds none whole", beg, end)
	}
}

// mappingFlags returns the VmFlags of the mapping of this process that holds addr.
func mappingFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}
