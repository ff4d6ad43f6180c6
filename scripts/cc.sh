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

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "cc.sh: no C compiler ($cc) for go test -race; installing Debian's gcc (once)" >&2
(export DEBIAN_FRONTEND=noninteractive
 $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends gcc libc6-dev) >&2
if ! bin="$(command -v "$cc")"; then
  echo "cc.sh: $cc still missing after apt-get install gcc" >&2
  exit 1
fi
echo "$bin"
