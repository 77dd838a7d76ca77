#!/usr/bin/env bash
# Installs the Debian packages listed in $1 (one per line, # comments) that are missing.
set -euo pipefail
list="$1"
want=$(grep -v '^\s*#' "$list" | awk 'NF{print $1}')
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then exit 0; fi
echo "installing Debian packages:$missing"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
