#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other, each for a bounded budget:
# FUZZTIME (default 10000x, an execution count) is passed to -fuzztime. The default is a
# count, not a duration, because a duration budget races Go's fuzzing coordinator
# (golang/go#75804, fixed in Go 1.27): on a loaded 2-core machine a worker still busy when
# the deadline fires fails the target with a bare "context deadline exceeded" and no
# crasher, which is how CI once failed FuzzAppendString. A count has no deadline to race;
# starvation only makes it slower. 10000 executions take about 15s for the slowest target
# (FuzzScan, ~700/s here) and 3s for the others.
# Targets are discovered with `go test -list '^Fuzz' ./...`, so a new Fuzz* function in any
# package is fuzzed without touching this script. Seed corpora live in each package's
# testdata/fuzz/<Target>/; an input that fails is written there too, ready to commit as a
# regression case once fixed.
#
#   scripts/fuzz.sh                    # every target, 10000 executions each (make test)
#   FUZZTIME=2000000x scripts/fuzz.sh  # a longer session (a duration such as 5m works
#                                      # too, with the coordinator race above)
set -euo pipefail

cd "$(dirname "$0")/.."
go=${GO:-go}
fuzztime=${FUZZTIME:-10000x}

list=$(mktemp)
trap 'rm -f "$list"' EXIT
# -list prints a package's matching names, then its "ok <package>" line.
"$go" test -list '^Fuzz' ./... >"$list"
targets=$(awk '
  /^Fuzz/ { names[n++] = $1; next }
  /^ok /  { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
' "$list")
if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi

count=$(printf '%s\n' "$targets" | wc -l)
echo "fuzz.sh: $count targets, $fuzztime each" >&2
while read -r pkg name; do
  echo "fuzz.sh: $name ($pkg)" >&2
  "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done <<<"$targets"
