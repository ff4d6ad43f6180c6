# Sourced by the scripts that install Debian packages (scripts/cc.sh, chromium.sh, vnu.sh,
# promtool.sh, systemd-analyze.sh): apt_install PKG... runs apt-get update, then apt-get
# install of PKG, as root or through sudo, with its output on stderr (the scripts print
# only a path on stdout).
#
# apt's locks are waited for, up to ten minutes, not failed on: a fresh machine often runs
# unattended-upgrades (apt-daily) for minutes after boot, and two make tests at once (two
# clones in one account) reach apt-get together; either way a bare apt-get stops at once
# with "Could not get lock /var/lib/dpkg/lock-frontend" (or /var/lib/apt/lists/lock), and
# make test with it. apt-get install waits itself given DPkg::Lock::Timeout; apt-get update
# does not (apt 2.6 ignores it for the lists lock), so it is tried again while the lock is
# what failed it.
apt_lock_wait=600

apt_install() {
  local sudo="" err i
  if [ "$(id -u)" -ne 0 ]; then
    # Without it the failure was a bare "sudo: command not found" (exit 127).
    if ! command -v sudo >/dev/null; then
      echo "apt_install: not root and no sudo: as root, run apt-get install $*; then run this again" >&2
      return 1
    fi
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  for ((i = 0; ; i += 2)); do
    # stderr is captured to tell a lock from other failures, stdout goes to stderr.
    if { err="$($sudo apt-get -o "DPkg::Lock::Timeout=$apt_lock_wait" update -q 2>&1 1>&3)"; } 3>&2; then
      if [ -n "$err" ]; then printf '%s\n' "$err" >&2; fi
      break
    fi
    case $err in
    *"Could not get lock"*) ;;
    *) printf '%s\n' "$err" >&2; return 1 ;;
    esac
    if [ "$i" -ge "$apt_lock_wait" ]; then printf '%s\n' "$err" >&2; return 1; fi
    if [ "$i" -eq 0 ]; then echo "apt-get update: waiting for apt's lock (another apt-get, or unattended-upgrades)" >&2; fi
    sleep 2
  done
  $sudo apt-get -o "DPkg::Lock::Timeout=$apt_lock_wait" install -y -q --no-install-recommends "$@" >&2
}
