#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other, each for a bounded time:
# FUZZTIME (default 10s) is passed to -fuzztime, so it also takes an iteration count (500x).
# Targets are discovered with `go test -list '^Fuzz' ./...`, so a new Fuzz* function in any
# package is fuzzed without touching this script. Seed corpora live in each package's
# testdata/fuzz/<Target>/; an input that fails is written there too, ready to commit as a
# regression case once fixed.
#
#   scripts/fuzz.sh                 # every target, 10s each (make test runs this)
#   FUZZTIME=5m scripts/fuzz.sh     # a longer session
set -euo pipefail

cd "$(dirname "$0")/.."
go=${GO:-go}
fuzztime=${FUZZTIME:-10s}

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
