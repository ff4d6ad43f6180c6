#!/usr/bin/env bash
# Prints the path of vnu.jar, the W3C Nu HTML checker, which the HTML export's validator
# test (archiver/htmlexport TestNuValidator) runs on generated pages. It installs what is
# missing first: a Java runtime (Debian's default-jre-headless) and npm (Debian's npm) with
# apt-get, as root or through sudo, then the vnu-jar npm package, pinned, into a cache folder
# outside the repository (CHATVAULT_VNU_DIR, default ~/.cache/chatvault/vnu-VERSION). The
# test fails, rather than skips, without it (except under -short).
#
#   CHATVAULT_VNU=$(scripts/vnu.sh) go test ./archiver/htmlexport/
set -euo pipefail

version=26.9.27
dir="${CHATVAULT_VNU_DIR:-$HOME/.cache/chatvault/vnu-$version}"
dir="${dir%/}" # its lock and build folder are beside it, not in it
jar="$dir/node_modules/vnu-jar/build/dist/vnu.jar"

# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
if ! command -v java >/dev/null; then
  echo "vnu.sh: installing Debian's default-jre-headless (once)" >&2
  apt_install default-jre-headless
fi
if ! command -v java >/dev/null; then
  echo "vnu.sh: java still missing after apt-get install" >&2
  exit 1
fi

# whole says whether the cached jar opens: npm writes the package's files in place, so an
# install killed half-way (SIGKILL: a session or CI run stopped, the OOM killer) leaves a
# truncated vnu.jar that would otherwise be handed out for ever ("Invalid or corrupt
# jarfile" in every validator test).
whole() { [ -f "$jar" ] && java -jar "$jar" --version >/dev/null 2>&1; }

if ! whole; then
  if ! command -v npm >/dev/null; then
    echo "vnu.sh: installing Debian's npm (once)" >&2
    apt_install npm
  fi
  if ! command -v npm >/dev/null; then
    echo "vnu.sh: npm still missing after apt-get install" >&2
    exit 1
  fi
  parent="$(dirname "$dir")"
  mkdir -p "$parent"
  # Two make tests at once take turns: the second uses what the first installed.
  exec 9>"$dir.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if ! whole; then
    echo "vnu.sh: installing vnu-jar@$version into $dir (once)" >&2
    rm -rf "$dir".build.* # what an interrupted install left; the lock says none is running
    tmp="$(mktemp -d "$dir.build.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    # Into a folder of its own, renamed into place only once whole.
    npm install --prefix "$tmp" --no-save --no-audit --no-fund --ignore-scripts "vnu-jar@$version" >&2
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
fi
if ! whole; then
  echo "vnu.sh: $jar does not open after npm install" >&2
  exit 1
fi
echo "$jar"
