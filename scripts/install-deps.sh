#!/bin/sh
# Install the Debian 12 packages anchor builds and tests with. Idempotent: only
# missing packages are installed. Needs root (or sudo) when something is missing.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --check  exit 1 (printing what is missing) instead of installing
#   ANCHOR_WITH_TORCH=1 ...          also python3-torch (reference fixtures, PyTorch benchmarks)
# Optional test packages (OPTIONAL_PKGS: chromium, for the headless rendering
# check of `anchor report` in tests/test_report.c; nodejs and npm for the
# client tests, see scripts/install-clients.sh) are installed when the
# archive has them; when they cannot be installed the script still succeeds
# and the tests that need them skip with a message. --check only mentions them.
set -eu

PKGS="build-essential cmake pkg-config libopenblas-dev libjansson-dev libcmocka-dev libpcre2-dev libutf8proc-dev libyaml-dev libcurl4-openssl-dev libsqlite3-dev libdnnl-dev libexttextcat-dev libmicrohttpd-dev libopenmpi-dev openmpi-bin"
if [ "${ANCHOR_WITH_TORCH:-0}" = 1 ]; then
    PKGS="$PKGS python3-torch python3-numpy"
fi

OPTIONAL_PKGS="chromium"
# node and npm for the real clients (scripts/install-clients.sh: node-llama-cpp,
# openai); a node that brings its own npm (e.g. NodeSource's) counts
if ! command -v npm >/dev/null 2>&1; then
    OPTIONAL_PKGS="$OPTIONAL_PKGS nodejs npm"
fi

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $PKGS; do
    if ! is_installed "$p"; then
        missing="$missing $p"
    fi
done
missing_optional=""
for p in $OPTIONAL_PKGS; do
    if ! is_installed "$p"; then
        missing_optional="$missing_optional $p"
    fi
done

if [ -z "$missing" ] && [ -z "$missing_optional" ]; then
    exit 0
fi

if [ "${1:-}" = "--check" ]; then
    if [ -n "$missing_optional" ]; then
        echo "optional Debian packages not installed (some tests will skip):$missing_optional" >&2
    fi
    if [ -n "$missing" ]; then
        echo "missing Debian packages:$missing" >&2
        exit 1
    fi
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        if [ -n "$missing" ]; then
            echo "install-deps: these packages are missing:$missing" >&2
            echo "install-deps: run this script as root (or install them with apt-get)." >&2
            exit 1
        fi
        echo "install-deps: optional packages not installed (needs root; some tests will skip):$missing_optional" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || [ -z "$missing" ]
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing" >&2
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# Optional packages one at a time: one that the archive lacks (or that fails
# to install) must not stop the others or the build.
for p in $missing_optional; do
    echo "install-deps: installing optional $p" >&2
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$p"; then
        echo "install-deps: could not install optional package $p; the tests that need it will skip" >&2
    fi
done
