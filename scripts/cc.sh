#!/usr/bin/env bash
# Prints the path of the C compiler Go's race detector needs (go test -race builds with
# cgo, so without one every -race test fails to build with "cgo: C compiler not found"),
# installing Debian's gcc first when the compiler `go env CC` names is missing (apt-get, as
# root or through sudo), the way scripts/promtool.sh and scripts/chromium.sh install theirs.
#
#   CC=$(scripts/cc.sh) go test -race ./...
set -euo pipefail

go=${GO:-go}
cc="$("$go" env CC)"
if bin="$(command -v "$cc")"; then echo "$bin"; exit 0; fi

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
echo "cc.sh: no C compiler ($cc) for go test -race; installing Debian's gcc (once)" >&2
apt_install gcc libc6-dev
if ! bin="$(command -v "$cc")"; then
  echo "cc.sh: $cc still missing after apt-get install gcc" >&2
  exit 1
fi
echo "$bin"
