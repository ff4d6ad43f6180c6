#!/usr/bin/env bash
# Export task benchmark: generate 30 days totalling 3,000,000 events with `chatvault gen`
# (one directory for all days), seal them into a folder store, then export the whole
# 30-day range of the busiest organization with `chatvault export-task` once per format.
# Prints a Markdown table: events exported, wall time, CPU seconds, peak RSS, output bytes.
#
#   make exportbench                        # or: scripts/exportbench.sh [format...]
#   EXPORTBENCH_DIR=/path scripts/exportbench.sh jsonl
#
# Formats default to "jsonl rsmf"; one the binary does not know is skipped with a message.
# Needs GNU time (/usr/bin/time) and jq: apt-get install -y time jq.
set -euo pipefail
# Numbers in C's format whatever the developer's locale: under de_DE.UTF-8, awk reads
# GNU time's "12.40" as 12 and prints "%.2f" as "12,00", and sort -n takes '.' for a
# thousands separator (scripts/locale_test.go).
export LC_ALL=C
cd "$(dirname "$0")/.."

formats=("${@:-jsonl rsmf}")
read -r -a formats <<<"${formats[*]}"
days=${EXPORTBENCH_DAYS:-30}
total=${EXPORTBENCH_EVENTS:-3000000}
# One archiving organization, so that the exported range holds nearly all 3,000,000 events
# (the rest are waves, invitations, redeliveries and chats it is not entitled to).
orgs=${EXPORTBENCH_ORGS:-1}
first=${EXPORTBENCH_FROM:-2026-10-01}
dir=${EXPORTBENCH_DIR:-$(mktemp -d /tmp/chatvault-exportbench.XXXXXX)}
mkdir -p "$dir"

for tool in /usr/bin/time jq; do
  command -v "$tool" >/dev/null || { echo "exportbench: $tool is missing (apt-get install -y time jq)" >&2; exit 2; }
done

go build -o "$dir/chatvault" ./cmd/chatvault
cv="$dir/chatvault"
log="$dir/log"
store="$dir/store"
last=$(date -u -d "$first + $((days - 1)) days" +%F)
per=$((total / days))

for i in $(seq 0 $((days - 1))); do
  d=$(date -u -d "$first + $i days" +%F)
  if [ ! -e "$log/$d/_CLOSED" ]; then
    rm -rf "${log:?}/$d"
    echo "exportbench: generating $per events for $d" >&2
    "$cv" gen --date "$d" --events "$per" --orgs "$orgs" --out "$log" --seed "$((i + 1))" >/dev/null
  fi
done
if [ ! -e "$dir/sealed" ]; then
  echo "exportbench: sealing $first..$last" >&2
  rm -rf "$store"
  "$cv" run --from "$first" --to "$last" --eventlog "$log" --store "$store" --log-format json --log-level warn >/dev/null
  touch "$dir/sealed"
fi
org=$(jq -r '[.organizations[] | select(.archival)][0].id' "$log/directory.json")

rows=()
for f in "${formats[@]}"; do
  out="$dir/result-$f"
  rm -f "$out" "$dir/status-$f.json"
  t=$(mktemp)
  echo "exportbench: exporting $first..$last as $f" >&2
  if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$cv" export-task --org "$org" --from "$first" --to "$last" --format "$f" \
    -o "$out" --eventlog "$log" --store "$store" --temp-dir "$dir" --log-format json --log-level info >"$dir/status-$f.json" 2>"$dir/stderr-$f"; then
    if grep -q -- "--format" "$dir/stderr-$f"; then
      echo "exportbench: skipping $f: this binary does not know it ($(tail -1 "$dir/stderr-$f"))" >&2
      rm -f "$t"
      continue
    fi
    cat "$dir/stderr-$f" >&2
    exit 1
  fi
  read -r wall user sys rss <"$t"
  rm -f "$t"
  events=$(jq -r .result.events "$dir/status-$f.json")
  bytes=$(jq -r .result.size "$dir/status-$f.json")
  rows+=("$(awk -v f="$f" -v e="$events" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v b="$bytes" \
    'BEGIN { printf "| %s | %d | %.1f | %.0f | %.1f | %.0f | %d |", f, e, w, e / w, u + s, r / 1024, b }')")
done

echo
echo "$days days ($first..$last), $total events generated; exported: organization $org"
echo
echo "| format | events | wall s | events/s | CPU s | peak RSS MiB | output bytes |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
