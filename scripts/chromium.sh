#!/usr/bin/env bash
# Prints the path of the headless Chromium the HTML export's browser test renders pages
# with, installing Debian's chromium package first when it is missing (apt-get, as root or
# through sudo). The test fails, rather than skips, without it (except under -short).
#
#   CHATVAULT_CHROMIUM=$(scripts/chromium.sh) go test ./archiver/htmlexport/
set -euo pipefail

for bin in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
done

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
echo "chromium.sh: installing Debian's chromium (once)" >&2
apt_install chromium
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium.sh: /usr/bin/chromium still missing after apt-get install" >&2
  exit 1
fi
echo /usr/bin/chromium
