#!/usr/bin/env bash
# Prints the path of promtool, which make test uses to check the alert rules in
# deploy/prometheus/ (promtool check rules) and to run their unit tests (promtool test
# rules), installing Debian's prometheus package first when it is missing (apt-get, as root
# or through sudo). Only the promtool binary is used; no Prometheus server is started.
#
#   $(scripts/promtool.sh) test rules deploy/prometheus/chatvault-alerts_test.yaml
set -euo pipefail

if bin="$(command -v promtool)"; then echo "$bin"; exit 0; fi

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
echo "promtool.sh: installing Debian's prometheus package for promtool (once)" >&2
apt_install prometheus
if ! bin="$(command -v promtool)"; then
  echo "promtool.sh: promtool still missing after apt-get install" >&2
  exit 1
fi
echo "$bin"
