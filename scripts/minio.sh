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

# runs says whether the cached binary is whole: `go install` copies it into GOBIN in place
# when its build folder is on another file system (a tmpfs /tmp), so a build interrupted
# there (Ctrl-C, a session or CI run stopped) leaves a truncated executable that would
# otherwise be handed out for ever, and every S3 test would fail to start MinIO.
runs() { [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; }

if ! runs; then
  mkdir -p "$dir"
  # Two make tests at once (two clones, one account) take turns: the second waits for the
  # first's build and uses it instead of building the same binary again beside it.
  exec 9>"$dir/.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if ! runs; then
    echo "minio.sh: building MinIO $version into $dir (once, about four minutes)" >&2
    rm -rf "$dir"/.build.* # what an interrupted build left; the lock says none is running
    tmp="$(mktemp -d "$dir/.build.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    # Outside the module, so the build neither reads nor touches chatvault's go.mod; into a
    # folder of its own, renamed into place only once whole.
    (cd "$tmp" && GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$version") >&2
    mv -f "$tmp/minio" "$bin"
    if ! runs; then
      echo "minio.sh: $bin does not run after the build" >&2
      exit 1
    fi
  fi
fi
echo "$bin"
