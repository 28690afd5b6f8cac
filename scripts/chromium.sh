#!/usr/bin/env bash
# Make sure a headless-capable Chromium is installed (for the report browser tests)
# and print the path of its binary. Idempotent: does nothing when one is already
# on PATH. Installing needs root on Debian/Ubuntu (apt-get); otherwise it fails
# with a message and the browser tests skip.
set -euo pipefail

find_chromium() {
    local name
    for name in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

if path=$(find_chromium); then
    echo "$path"
    exit 0
fi

if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: Chromium is not installed and cannot be installed here (needs root and apt-get)." >&2
    echo "chromium.sh: install it with: sudo apt-get install chromium" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null

if path=$(find_chromium); then
    echo "$path"
else
    echo "chromium.sh: apt-get installed chromium but no binary is on PATH." >&2
    exit 1
fi
