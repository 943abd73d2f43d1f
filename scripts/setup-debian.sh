#!/usr/bin/env bash
# Installs the system packages copybot builds and runs with on Debian 12 (bookworm), and the
# PostgreSQL server the tests start a throwaway cluster of (scripts/postgres-test-server.sh; the
# package's own system cluster is not used).
# Idempotent; needs root (or sudo). Swift 6.1+ must already be on PATH (https://swift.org/install).
set -euo pipefail

packages=(pkg-config libwebsockets-dev libsecp256k1-dev libsqlite3-dev libssl-dev postgresql)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    echo "setup: installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: swift is not on PATH; install Swift 6.1 or later (https://swift.org/install) and retry" >&2
    exit 1
fi
echo "setup: system packages present; $(swift --version 2>/dev/null | head -1)"
