package deploy

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeStopTimeout: after SIGTERM serve waits http.shutdownTimeout for requests and a
// seal, then up to as long again for the requests it cut, so that their access records
// are written, then writes the audit (README, Serving exports). chatvault.service gave it
// TimeoutStopSec=60, exactly twice the default 30s: systemd's SIGKILL came when the drain
// ended, before the audit was written, losing the very records the drain waits for. The
// stop timeout must outlast both waits with room for the audit's write, as systemd
// reads it (systemd-analyze timespan).
func TestServeStopTimeout(t *testing.T) {
	u := readUnit(t, "systemd/chatvault.service")
	spec := u.last("Service", "TimeoutStopSec")
	if spec == "" {
		t.Fatal("chatvault.service sets no TimeoutStopSec (systemd's default is 90s, but say it)")
	}
	out, err := exec.Command(systemdAnalyze(t), "timespan", spec).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze timespan %q: %v\n%s", spec, err, out)
	}
	var stop time.Duration
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "μs:"); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("systemd-analyze timespan: %q: %v", l, err)
			}
			stop = time.Duration(us) * time.Microsecond
		}
	}
	if stop == 0 {
		t.Fatalf("systemd-analyze timespan %q gave no μs line:\n%s", spec, out)
	}
	const auditWrite = 15 * time.Second // room for the last segments' writes
	shutdown := config.Default().HTTP.ShutdownTimeout
	if need := 2*shutdown + auditWrite; stop < need {
		t.Fatalf("TimeoutStopSec=%s (%s): serve may take 2 x http.shutdownTimeout (%s) before it writes the audit; want at least %s, or SIGKILL loses the access records of the requests it cut", spec, stop, shutdown, need)
	}
	reliability.Record(t, "operations", "chatvault.service stopped while requests wait on the store (TimeoutStopSec)", reliability.Kept,
		"TestServeStopTimeout: TimeoutStopSec (systemd-analyze timespan) outlasts twice http.shutdownTimeout and the audit's write; it was 60s, exactly the two waits, so SIGKILL came before the cut requests' access records were written")
}
