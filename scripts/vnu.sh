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
jar="$dir/node_modules/vnu-jar/build/dist/vnu.jar"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
updated=""
apt_install() {
  echo "vnu.sh: installing Debian's $1 (once)" >&2
  (export DEBIAN_FRONTEND=noninteractive
   if [ -z "$updated" ]; then $sudo apt-get update -q; fi
   $sudo apt-get install -y -q --no-install-recommends "$1") >&2
  updated=1
}

if ! command -v java >/dev/null; then apt_install default-jre-headless; fi
if ! command -v java >/dev/null; then
  echo "vnu.sh: java still missing after apt-get install" >&2
  exit 1
fi

if [ ! -f "$jar" ]; then
  if ! command -v npm >/dev/null; then apt_install npm; fi
  if ! command -v npm >/dev/null; then
    echo "vnu.sh: npm still missing after apt-get install" >&2
    exit 1
  fi
  echo "vnu.sh: installing vnu-jar@$version into $dir (once)" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts "vnu-jar@$version" >&2
fi
if [ ! -f "$jar" ]; then
  echo "vnu.sh: $jar still missing after npm install" >&2
  exit 1
fi
echo "$jar"
