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
