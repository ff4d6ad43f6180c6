#!/usr/bin/env bash
# Load benchmark of `chatvault serve` on loopback: 32 concurrent clients download a 10 MB
# and a 100 MB day, decompressed on the fly and as stored gzip; prints a Markdown table
# with throughput, p50/p99 latency and the server's peak RSS.
#
#   scripts/loadbench.sh [flags of scripts/loadbench]   e.g. -sizes 100 -clients 32 -rounds 2
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d /tmp/chatvault-loadbench-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/chatvault" ./cmd/chatvault
go run ./scripts/loadbench -chatvault "$bin/chatvault" "$@"
