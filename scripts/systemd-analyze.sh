#!/usr/bin/env bash
# Prints the path of systemd-analyze, which make test uses to check the units in
# deploy/systemd/ (systemd-analyze verify, and systemd-analyze security --offline=true
# --threshold=…; systemd-sysusers for the sysusers.d file, from the same package),
# installing Debian's systemd package first when it is missing (apt-get, as root or through
# sudo). Nothing is started: both tools read the unit files offline.
#
#   CHATVAULT_SYSTEMD_ANALYZE=$(scripts/systemd-analyze.sh) go test ./deploy/
set -euo pipefail

if bin="$(command -v systemd-analyze)"; then echo "$bin"; exit 0; fi

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
echo "systemd-analyze.sh: installing Debian's systemd package for systemd-analyze (once)" >&2
apt_install systemd
if ! bin="$(command -v systemd-analyze)"; then
  echo "systemd-analyze.sh: systemd-analyze still missing after apt-get install" >&2
  exit 1
fi
echo "$bin"
