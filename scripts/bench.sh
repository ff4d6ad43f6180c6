#!/usr/bin/env bash
# Benchmark: generate 1,000,000 and 4,000,000 events with `chatvault gen`, seal each into a
# fresh folder store, seal the first size again into an Object Lock bucket of a local MinIO
# (built by scripts/minio.sh), and compare with a jq | gzip baseline filtering the same 1M log.
# Prints a Markdown table: wall time, events per second, CPU seconds, peak RSS.
#
#   make bench                    # or: scripts/bench.sh [events...]
#   BENCH_DIR=/path scripts/bench.sh 1000000
#
# Then a wide day: BENCH_WIDE_EVENTS (1,000,000) over BENCH_WIDE_ORGS (50,000; 0 skips
# it) organizations, sealed BENCH_WIDE_RUNS (1) times into a folder store, for peak RSS
# against export.sortMemory when the directory and the per-organization state are large.
#
# Needs GNU time (/usr/bin/time) and jq: apt-get install -y time jq.
set -euo pipefail
# Numbers in C's format whatever the developer's locale: under de_DE.UTF-8, awk reads
# GNU time's "12.40" as 12 and prints "%.2f" as "12,00", and sort -n takes '.' for a
# thousands separator (scripts/locale_test.go).
export LC_ALL=C
cd "$(dirname "$0")/.."

sizes=("${@:-1000000 4000000}")
read -r -a sizes <<<"${sizes[*]}"
dir=${BENCH_DIR:-$(mktemp -d /tmp/chatvault-bench.XXXXXX)}
day=2026-11-22
orgs=${BENCH_ORGS:-50}
mkdir -p "$dir"

for tool in /usr/bin/time jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y time jq)" >&2; exit 2; }
done

go build -o "$dir/chatvault" ./cmd/chatvault
cv="$dir/chatvault"
rows=()

runs=${BENCH_RUNS:-3}

# measure NAME EVENTS RESET CMD...: runs CMD $runs times under GNU time, calling the shell
# function RESET with the run's number before each, and appends a table row for the run
# with the median wall time. A {i} in CMD becomes the run's number. This machine is a
# shared VM whose wall times swing with its neighbours; the median of a few runs, and the
# CPU seconds beside it, are what a reader can compare.
measure() {
  local name=$1 events=$2 reset=$3; shift 3
  local t results=()
  t=$(mktemp)
  for i in $(seq "$runs"); do
    "$reset" "$i"
    /usr/bin/time -f '%e %U %S %M' -o "$t" "${@//\{i\}/$i}" >/dev/null
    results+=("$(cat "$t")")
  done
  rm -f "$t"
  read -r wall user sys rss < <(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  # A '|' in the name (the jq pipeline's) is escaped so the row stays a Markdown row.
  rows+=("$(awk -v n="${name//|/\\|}" -v e="$events" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN { printf "| %s | %d | %.2f | %.0f | %.2f | %.0f |", n, e, w, e / w, u + s, r / 1024 }')")
  # For the targets below: events per wall second and per CPU second, and peak RSS in MiB.
  rate["$name/$events"]=$(awk -v e="$events" -v w="$wall" 'BEGIN { printf "%.0f", e / w }')
  cpurate["$name/$events"]=$(awk -v e="$events" -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", e / (u + s) }')
  peak["$name/$events"]=$(awk -v r="$rss" 'BEGIN { printf "%.0f", r / 1024 }')
}
declare -A rate cpurate peak

nothing() { :; }
# Each reset ends with sync: the folder store's seal syncs its file system once (syncfs),
# which would otherwise also write back what came before the run (the build, the last
# run's removal) and count it as the run's.

for n in "${sizes[@]}"; do
  log="$dir/log-$n"
  if [ ! -e "$log/$day/_CLOSED" ]; then
    rm -rf "$log"
    mkdir -p "$log"
    # Every size shares the first size's directory: the same organizations, users and
    # chats with more traffic, so memory can be compared across day sizes.
    if [ -e "$dir/log-${sizes[0]}/directory.json" ]; then
      cp "$dir/log-${sizes[0]}/directory.json" "$log/"
    fi
    echo "bench: generating $n events into $log" >&2
    "$cv" gen --date "$day" --events "$n" --orgs "$orgs" --out "$log" --seed 1 >&2
  fi
  fresh() { rm -rf "$dir/store-$n" "$dir/tmp-$n" && mkdir -p "$dir/tmp-$n" && sync; }
  echo "bench: sealing $n events ($runs runs)" >&2
  # Exit code 3 (quarantined records) would still be a sealed day; gen writes none here.
  measure "chatvault run (folder store)" "$n" fresh "$cv" run --date "$day" --eventlog "$log" \
    --store "$dir/store-$n" --temp-dir "$dir/tmp-$n" --log-format json
done

# The wide day: few events per organization, many organizations. Its peak RSS holds the
# directory (tens of MB at 50,000 organizations) and what each organization keeps until the
# day is done, beside the sort: the second half of issue 13's memory target.
wide_orgs=${BENCH_WIDE_ORGS:-50000}
wide_events=${BENCH_WIDE_EVENTS:-1000000}
wide="chatvault run, $wide_orgs organizations (folder store)"
if [ "$wide_orgs" -gt 0 ]; then
  log="$dir/log-wide-$wide_orgs-$wide_events"
  if [ ! -e "$log/$day/_CLOSED" ]; then
    rm -rf "$log"
    mkdir -p "$log"
    echo "bench: generating $wide_events events over $wide_orgs organizations into $log" >&2
    "$cv" gen --date "$day" --events "$wide_events" --orgs "$wide_orgs" --out "$log" --seed 1 >&2
  fi
  freshwide() { rm -rf "$dir/store-wide" "$dir/tmp-wide" && mkdir -p "$dir/tmp-wide" && sync; }
  echo "bench: sealing $wide_events events over $wide_orgs organizations (${BENCH_WIDE_RUNS:-1} runs)" >&2
  runs=${BENCH_WIDE_RUNS:-1} measure "$wide" "$wide_events" freshwide "$cv" run --date "$day" --eventlog "$log" \
    --store "$dir/store-wide" --temp-dir "$dir/tmp-wide" --log-format json
  rm -rf "$dir/store-wide" "$dir/tmp-wide"
fi

# The S3 path: the first size sealed into an Object Lock bucket of a local MinIO (built by
# scripts/minio.sh), with the event log still read from the folder so the row differs from
# the folder-store row only by its store. Peak RSS is chatvault's alone, not MinIO's.
n=${sizes[0]}
. scripts/lib/benchminio.sh
start_bench_minio "$dir" || exit 1
freshtmp() { rm -rf "$dir/tmp-$n" && mkdir -p "$dir/tmp-$n" && sync; }
echo "bench: sealing $n events into MinIO ($runs runs, each under its own prefix)" >&2
measure "chatvault run (S3 store, local MinIO, Object Lock)" "$n" freshtmp "$cv" run --date "$day" --eventlog "$dir/log-$n" \
  --store 's3://bench/run-{i}' --temp-dir "$dir/tmp-$n" --log-format json
kill "$minio_pid" && wait "$minio_pid" 2>/dev/null || true
trap - EXIT

# Baseline: what a shell pipeline does with the same 1M log, filtering message events
# without any routing, sorting, hashing or durability: jq -c 'select(...)' | gzip -1.
n=${sizes[0]}
log="$dir/log-$n"
filter='select((.eventType=="sent" or .eventType=="edited" or .eventType=="deleted") and (.contentType=="text" or .contentType=="emoji" or .contentType=="item" or .contentType=="textSnippet" or .contentType=="membersChanged"))'
echo "bench: jq baseline on $n events" >&2
measure "jq -c 'select(…)' | gzip -1 (baseline)" "$n" nothing sh -c \
  "for f in '$log/$day'/*.jsonl*; do case \$f in *.gz) gzip -dc \"\$f\";; *) cat \"\$f\";; esac; done | jq -c '$filter' | gzip -1"

echo
echo "| run | events | wall s | events/s | CPU s | peak RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
echo "each row: the median wall time of $runs runs (the wide day: ${BENCH_WIDE_RUNS:-1}), with that run's CPU seconds and peak RSS."
echo "peak RSS of the jq row is the largest process of the pipeline (GNU time reports the shell's children's maximum)."

# The targets of issue 13, from the rows above (all from this one run of the script).
folder="chatvault run (folder store)"
jq="jq -c 'select(…)' | gzip -1 (baseline)"
small=${sizes[0]}
sortmem=${BENCH_SORT_MEMORY_MIB:-256}
echo
echo "targets:"
if [ "${#sizes[@]}" -gt 1 ]; then
  big=${sizes[-1]}
  awk -v a="${rate[$folder/$small]}" -v b="${rate[$folder/$big]}" -v ca="${cpurate[$folder/$small]}" -v cb="${cpurate[$folder/$big]}" -v s="$small" -v l="$big" \
    'BEGIN { d = 100 * (1 - b / a); printf "- %d events: %.0f events/s, %.1f%% below the %d-event rate (target: within 15%%) %s; per CPU second it is %+.1f%% against the smaller day\n", l, b, d, s, (d <= 15 ? "met" : "NOT met"), 100 * (cb / ca - 1) }'
  awk -v r="${peak[$folder/$big]}" -v m="$sortmem" -v l="$big" \
    'BEGIN { printf "- %d events: peak RSS %d MiB, export.sortMemory %d MiB (target: within it) %s\n", l, r, m, (r <= m ? "met" : "NOT met") }'
fi
if [ "$wide_orgs" -gt 0 ]; then
  awk -v r="${peak[$wide/$wide_events]}" -v m="$sortmem" -v o="$wide_orgs" \
    'BEGIN { printf "- %d organizations: peak RSS %d MiB, export.sortMemory %d MiB (target: within it) %s\n", o, r, m, (r <= m ? "met" : "NOT met") }'
fi
awk -v a="${rate[$folder/$small]}" -v j="${rate[$jq/$small]}" -v ca="${cpurate[$folder/$small]}" -v cj="${cpurate[$jq/$small]}" -v s="$small" \
  'BEGIN { x = a / j; printf "- %d events: %.1fx the jq | gzip baseline by wall time (target: at least 7x) %s; %.1fx per CPU second\n", s, x, (x >= 7 ? "met" : "NOT met"), ca / cj }'
