#!/bin/sh
# Install the Debian packages nwreg needs to build, test and draw, if any is
# missing.  As root it runs apt-get; otherwise it prints the exact command and
# stops with status 1.  Pass extra package names as arguments (e.g. the
# reference and benchmark peers: see scripts/deps-peers.sh).
set -eu
PKGS="gcc make cmake pkg-config libc6-dev libgomp1 libplplot-dev plplot-driver-cairo \
fonts-dejavu-core libcmocka-dev libcsv-dev libcjson-dev man-db groff-base"
PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>&1 | grep -q 'ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -eq 0 ]; then
  echo "nwreg: installing missing Debian packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 || true
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >&2
else
  echo "nwreg: missing Debian packages:$missing" >&2
  echo "nwreg: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
