#!/usr/bin/env bash
# Scale benchmark: how chatvault's cost grows with organizations and with stored days,
# measured through the CLI of one binary on generated data (internal/cmd/scalebench).
# Prints a Markdown table: what | value | growth law.
#
#   make scalebench                                   # builds ./cmd/chatvault and measures it
#   SCALEBENCH_BIN=/tmp/chatvault-old make scalebench # measures another build (an older commit)
#   SCALEBENCH_S3=0 make scalebench                   # folder store only (no MinIO)
#
# Sizes (defaults finish in about ten minutes on an idle 2-core box):
#   SCALEBENCH_FLEET_ORGS=10,1000,2000  SCALEBENCH_FLEET_EVENTS=200000  SCALEBENCH_LOOKBACK=365
#   SCALEBENCH_S3_FLEET_ORGS=10,1000    SCALEBENCH_HIST_ORGS=20  SCALEBENCH_HIST_DAYS=30,90
#   SCALEBENCH_HIST_EVENTS=2000  SCALEBENCH_AUDIT_ORGS=20  SCALEBENCH_TASKS=10,40 (janitor, S3 only)
# SCALEBENCH_ONLY=fleet, history or chain runs one part (fleet: the rows over N
# organizations; history: verify, verify --date, chain head, status, audit, janitor;
# chain: one organization's chain of SCALEBENCH_CHAIN_DAYS days, 0 by default: off).
# Data goes to SCALEBENCH_DIR (default a new temporary folder, removed at the end unless
# SCALEBENCH_KEEP=1), never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SCALEBENCH_BIN:-}" ]; then
  out=$(mktemp -d /tmp/chatvault-scalebench-bin.XXXXXX)
  go build -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$out/chatvault" ./cmd/chatvault
  export SCALEBENCH_BIN="$out/chatvault"
  trap 'rm -rf "$out"' EXIT
fi
if [ "${SCALEBENCH_S3:-1}" != 0 ] && [ -z "${SCALEBENCH_MINIO:-}" ]; then
  SCALEBENCH_MINIO=$(scripts/minio.sh)
  export SCALEBENCH_MINIO
fi
go run ./internal/cmd/scalebench
