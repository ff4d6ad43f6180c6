#!/usr/bin/env bash
# Cost of sharding: generate a day (default 500,000 events over 1,000 organizations) with
# `chatvault gen`, start a local MinIO (scripts/minio.sh), and seal the day into it once
# unsharded and then as n = 2 and 4 shards (`run --shard i/n`), each shard a process of
# its own under GNU time, one after another so that they do not compete for the CPU.
# Prints, for each n, every shard's CPU seconds (user + system; the median of
# SHARDBENCH_RUNS runs, default 3, each into a fresh prefix), their sum, and the sum's
# excess over the unsharded run: what reading the whole partition in every shard costs.
#
#   scripts/shardbench.sh                  # SHARDBENCH_EVENTS=1000000 SHARDBENCH_ORGS=1000
#
# Needs GNU time (/usr/bin/time): apt-get install -y time.
set -euo pipefail
# Numbers in C's format whatever the developer's locale: under de_DE.UTF-8, awk reads
# GNU time's "12.40" as 12 and prints "%.2f" as "12,00", and sort -n takes '.' for a
# thousands separator (scripts/locale_test.go).
export LC_ALL=C
cd "$(dirname "$0")/.."

events=${SHARDBENCH_EVENTS:-500000}
runs=${SHARDBENCH_RUNS:-3}
orgs=${SHARDBENCH_ORGS:-1000}
dir=${SHARDBENCH_DIR:-$(mktemp -d /tmp/chatvault-shardbench.XXXXXX)}
day=2026-11-22
command -v /usr/bin/time >/dev/null || { echo "shardbench: /usr/bin/time is missing (apt-get install -y time)" >&2; exit 2; }
mkdir -p "$dir"
go build -o "$dir/chatvault" ./cmd/chatvault
cv="$dir/chatvault"
log="$dir/log"
if [ ! -e "$log/$day/_CLOSED" ]; then
  rm -rf "$log" && mkdir -p "$log"
  echo "shardbench: generating $events events over $orgs organizations into $log" >&2
  "$cv" gen --date "$day" --events "$events" --orgs "$orgs" --out "$log" --seed 1 >&2
fi

. scripts/lib/benchminio.sh
start_bench_minio "$dir" || exit 1

# seal PREFIX [ARGS...]: $runs runs, the k-th into s3://bench/PREFIX-k; prints the
# median run's "wall cpu rss-MiB" by CPU seconds.
seal() {
  local prefix=$1 t code k; shift
  t=$(mktemp)
  for k in $(seq "$runs"); do
    rm -rf "$dir/tmp" && mkdir -p "$dir/tmp"
    code=0
    /usr/bin/time -f '%e %U %S %M' -o "$t.run" "$cv" run --date "$day" --eventlog "$log" --store "s3://bench/$prefix-$k" \
      --temp-dir "$dir/tmp" --log-format json --quarantine-exit-code 0 "$@" >/dev/null 2>&1 || code=$?
    [ "$code" = 0 ] || { echo "shardbench: run $* exited $code" >&2; exit 1; }
    awk '{ printf "%.2f %.2f %.0f\n", $1, $2 + $3, $4 / 1024 }' "$t.run" >>"$t"
  done
  sort -k2 -n "$t" | sed -n "$(( (runs + 1) / 2 ))p"
  rm -f "$t" "$t.run"
}

rows=()
read -r wall base rss < <(seal whole)
rows+=("$(printf '| 1 (unsharded) | %s | %s | %s | – | %s |' "$base" "$base" "$base" "$rss")")
for n in 2 4; do
  cpus=() total=0 maxcpu=0 maxrss=0
  for i in $(seq 0 $((n - 1))); do
    echo "shardbench: shard $i/$n" >&2
    read -r wall cpu rss < <(seal "shards-$n" --shard "$i/$n")
    cpus+=("$cpu")
    total=$(awk -v a="$total" -v b="$cpu" 'BEGIN { printf "%.2f", a + b }')
    maxcpu=$(awk -v a="$maxcpu" -v b="$cpu" 'BEGIN { printf "%.2f", (b > a) ? b : a }')
    maxrss=$(( rss > maxrss ? rss : maxrss ))
  done
  over=$(awk -v t="$total" -v b="$base" 'BEGIN { printf "%+.0f%%", (t / b - 1) * 100 }')
  rows+=("$(printf '| %d | %s | %s | %s | %s | %s |' "$n" "${cpus[*]}" "$maxcpu" "$total" "$over" "$maxrss")")
done
"$cv" verify --eventlog "$log" --store s3://bench/shards-4-1 --log-format json >/dev/null 2>&1 || { echo "shardbench: verify of the 4 shards failed" >&2; exit 1; }

echo
echo "| shards n | CPU s of each shard | slowest shard CPU s | total CPU s | total vs unsharded | peak RSS MiB |"
echo "| ---: | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "$events events, $orgs organizations, S3 store on a local MinIO; shards run one after another;"
echo "each figure the median of $runs runs."
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
