#!/bin/sh
# Install the Debian 12 packages anchor builds and tests with. Idempotent: only
# missing packages are installed. Needs root (or sudo) when something is missing.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --check  exit 1 (printing what is missing) instead of installing
#   ANCHOR_WITH_TORCH=1 ...          also python3-torch (reference fixtures, PyTorch benchmarks)
set -eu

PKGS="build-essential cmake pkg-config libopenblas-dev libjansson-dev libcmocka-dev libpcre2-dev libutf8proc-dev libyaml-dev libcurl4-openssl-dev libsqlite3-dev"
if [ "${ANCHOR_WITH_TORCH:-0}" = 1 ]; then
    PKGS="$PKGS python3-torch python3-numpy"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "${1:-}" = "--check" ]; then
    echo "missing Debian packages:$missing" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: these packages are missing:$missing" >&2
        echo "install-deps: run this script as root (or install them with apt-get)." >&2
        exit 1
    fi
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
