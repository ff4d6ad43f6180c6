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
	stop := timespan(t, spec)
	const auditWrite = 15 * time.Second // room for the last segments' writes
	shutdown := config.Default().HTTP.ShutdownTimeout
	if need := 2*shutdown + auditWrite; stop < need {
		t.Fatalf("TimeoutStopSec=%s (%s): serve may take 2 x http.shutdownTimeout (%s) before it writes the audit; want at least %s, or SIGKILL loses the access records of the requests it cut", spec, stop, shutdown, need)
	}
	reliability.Record(t, "operations", "chatvault.service stopped while requests wait on the store (TimeoutStopSec)", reliability.Kept,
		"TestServeStopTimeout: TimeoutStopSec (systemd-analyze timespan) outlasts twice http.shutdownTimeout and the audit's write; it was 60s, exactly the two waits, so SIGKILL came before the cut requests' access records were written")
}

// timespan is a systemd time span as systemd reads it (systemd-analyze timespan).
func timespan(t *testing.T, spec string) time.Duration {
	t.Helper()
	out, err := exec.Command(systemdAnalyze(t), "timespan", spec).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze timespan %q: %v\n%s", spec, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "μs:"); ok {
			if strings.TrimSpace(v) == "infinity" {
				return -1
			}
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("systemd-analyze timespan: %q: %v", l, err)
			}
			return time.Duration(us) * time.Microsecond
		}
	}
	t.Fatalf("systemd-analyze timespan %q gave no μs line:\n%s", spec, out)
	return 0
}

// TestRunUnitBounded: chatvault-run.service is Type=oneshot, whose start has no timeout
// unless one is set. A run that hangs (an event log on a stalled NFS mount, an S3 request
// that never answers) stayed "activating" for ever, and the timer, which does not start
// a unit that is still running, started no other run: no day was sealed again and,
// without serve, nothing said so. TimeoutStartSec bounds the run: systemd stops it (a
// seal cut leaves nothing half-committed), the unit fails (systemctl --failed), and the
// next tick starts afresh.
func TestRunUnitBounded(t *testing.T) {
	u := readUnit(t, "systemd/chatvault-run.service")
	spec := u.last("Service", "TimeoutStartSec")
	if spec == "" {
		spec = u.last("Service", "TimeoutSec")
	}
	if spec == "" {
		t.Fatal("chatvault-run.service (Type=oneshot) sets no TimeoutStartSec: a hung run is never stopped and the timer starts no other")
	}
	d := timespan(t, spec)
	if d <= 0 || d > maxRunTime {
		t.Fatalf("TimeoutStartSec=%s (%s): want a bound of at most %s", spec, d, maxRunTime)
	}
	reliability.Record(t, "fault", "a `chatvault run` started by the systemd timer that hangs", reliability.Recovered,
		"TestRunUnitBounded: TimeoutStartSec (systemd-analyze timespan) stops it, the unit fails and the next tick runs; a oneshot service has no start timeout by default, so one hung run stopped every later one")
}

// maxRunTime bounds a scheduled run (the timer's service, the CronJob's Job): a day must be
// sealed 6 hours after it ends (ChatvaultDayNotSealed); a day that needs longer on one
// machine needs shards.
const maxRunTime = 6 * time.Hour
