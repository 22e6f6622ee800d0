#!/bin/sh
# Installs the real clients some tests drive anchor with, at the versions
# pinned in scripts/clients/package-lock.json: node-llama-cpp 3.21.1 (llama.cpp,
# prebuilt for linux-x64; loads anchor's GGUF exports) and the official openai
# package (talks to `anchor serve`). Needs node >= 20 and npm (Debian: nodejs,
# npm). Tests that need them skip with a message when scripts/clients/node_modules
# is absent, so the suite passes without running this.
set -eu
cd "$(dirname "$0")/clients"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-clients: npm not found (apt-get install nodejs npm); the client tests will be skipped" >&2
    exit 1
fi
# the prebuilt llama.cpp binaries come with @node-llama-cpp/linux-x64: no
# download or build at install time, no GPU variants
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --no-audit --no-fund
node -e "import('node-llama-cpp').then(m => m.getLlama({gpu: false, build: 'never'})).then(() => console.log('install-clients: node-llama-cpp ready (prebuilt, CPU)'))"
