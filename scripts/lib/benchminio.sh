# Sourced by the benchmark scripts (bash): start_bench_minio DIR starts the pinned MinIO
# (scripts/minio.sh) on a free loopback port with its data in DIR/minio, exports the
# credentials and CHATVAULT_S3_* for chatvault, makes the Object Lock bucket "bench", sets
# minio_pid and stops the server when the script exits.
start_bench_minio() {
  local dir=$1 minio port
  minio=$(scripts/minio.sh)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  rm -rf "$dir/minio" && mkdir -p "$dir/minio"
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_EC2_METADATA_DISABLED=true
  export CHATVAULT_S3_ENDPOINT="http://127.0.0.1:$port" CHATVAULT_S3_PATHSTYLE=true
  MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY MINIO_BROWSER=off \
    "$minio" server --quiet --address "127.0.0.1:$port" "$dir/minio" >"$dir/minio.log" 2>&1 &
  minio_pid=$!
  trap 'kill "$minio_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 300); do
    go run ./internal/cmd/mkbucket bench 2>/dev/null && return 0
    kill -0 "$minio_pid" || { cat "$dir/minio.log" >&2; return 1; }
    sleep 0.2
  done
  echo "MinIO did not make the bucket within a minute; its log: $dir/minio.log" >&2
  return 1
}
