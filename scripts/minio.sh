#!/usr/bin/env bash
# Prints the path of the MinIO server binary the S3 tests run, building it first when it is
# not cached yet (about four minutes on an idle 2-core box: 356 CPU-seconds, and
# 1.2 GB of modules from the proxy). The binary lives outside the repository, under
# ${XDG_CACHE_HOME:-$HOME/.cache}/chatvault/minio-<version>/, so later runs and CI on the
# same machine reuse it; MinIO never enters go.mod.
#
#   CHATVAULT_MINIO=$(scripts/minio.sh) go test ./archiver/s3/
set -euo pipefail

version=v0.0.0-20260212201848-7aac2a2c5b7c
dir="${XDG_CACHE_HOME:-$HOME/.cache}/chatvault/minio-$version"
bin="$dir/minio"

if [ ! -x "$bin" ]; then
  echo "minio.sh: building MinIO $version into $dir (once, about four minutes)" >&2
  mkdir -p "$dir"
  # Outside the module, so the build neither reads nor touches chatvault's go.mod.
  (cd "$dir" && GOBIN="$dir" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$version") >&2
fi
echo "$bin"
