#!/bin/sh
# The public API as a third party sees it (CTest test_embed_install):
#   1. `cmake --install` the build into a temporary prefix;
#   2. every installed public header compiles on its own, and none includes
#      jansson or an internal (src/) header;
#   3. libanchor.so exports exactly the ANC_API functions of the headers
#      (nm -D --defined-only: nothing but anc_* besides the linker's own);
#   4. examples/embed.c, built with `cc $(pkg-config --cflags --libs anchor)`
#      against the installed copy, runs on a random model, then on the model
#      it saved (same results), then on a model folder with a tokenizer made
#      by the installed CLI, and once more linked with libanchor.a; its
#      output is checked.
# usage: embed_install.sh BUILD_DIR SOURCE_DIR CMAKE CC [EXTRA_CFLAGS]
set -eu
build=$1 src=$2 cmake=$3 cc=$4 extra=${5:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/anchor-embed.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; }
pc=$(find "$prefix" -name anchor.pc | head -n 1)
[ -n "$pc" ] || fail "no anchor.pc installed"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir anchor)
incdir=$(pkg-config --variable=includedir anchor)
for f in "$libdir/libanchor.so" "$libdir/libanchor.a" "$incdir/anchor/anchor.h" "$incdir/anchor/version.h" "$prefix/bin/anchor"; do
    [ -e "$f" ] || fail "not installed: $f"
done
cflags=$(pkg-config --cflags anchor)
libs=$(pkg-config --libs anchor)
echo "pkg-config: $cflags $libs"

# 2. headers: self-contained, public only
for h in "$incdir"/anchor/*.h; do
    name=$(basename "$h")
    if grep -n '#include' "$h" | grep -v -e '#include <std[a-z]*\.h>' -e '#include "anchor/[a-z]*\.h"'; then
        fail "$name includes something else than the C library and anchor/ headers"
    fi
    printf '#include <anchor/%s>\nint main(void) { return 0; }\n' "$name" >"$tmp/h.c"
    # shellcheck disable=SC2086
    "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror $cflags -c "$tmp/h.c" -o "$tmp/h.o" || fail "$name does not compile alone"
done
echo "headers: $(ls "$incdir"/anchor/*.h | wc -l) compile alone"

# 3. exports
nm -D --defined-only "$libdir/libanchor.so" | awk '{print $NF}' | sort -u >"$tmp/exported"
grep -v -x -e '_init' -e '_fini' -e '_edata' -e '_end' -e '__bss_start' "$tmp/exported" >"$tmp/exported_anc" || true
if grep -v '^anc_' "$tmp/exported_anc"; then fail "libanchor.so exports the symbols above, which are not anc_*"; fi
cat "$incdir"/anchor/*.h | tr '\n' ' ' | grep -o 'ANC_API [^(;]*(' | sed -E 's/.*[ *](anc_[a-z0-9_]+)\($/\1/' | grep -x 'anc_[a-z0-9_]*' | sort -u >"$tmp/declared"
if ! cmp -s "$tmp/declared" "$tmp/exported_anc"; then
    echo "declared ANC_API (<) vs exported (>):" >&2
    diff "$tmp/declared" "$tmp/exported_anc" >&2 || true
    fail "libanchor.so's exports differ from the ANC_API declarations"
fi
echo "exports: $(wc -l <"$tmp/exported_anc") anc_ functions, all declared ANC_API; other defined symbols: $(grep -v '^anc_' "$tmp/exported" | tr '\n' ' ')"

# 4. the example, shared then static
# shellcheck disable=SC2086
"$cc" $extra -Wall -Wextra -Werror "$src/examples/embed.c" $cflags $libs -o "$tmp/embed" || fail "embed.c does not build"
readelf -d "$tmp/embed" | grep -q 'NEEDED.*libanchor\.so' || fail "embed is not linked with libanchor.so"
# libanchor.a, then what anchor.pc lists for it: its own Libs.private and its
# Requires.private packages (their shared libraries: `pkg-config --static`
# would also ask for libcurl's own private static dependencies, which
# Debian's libcurl.pc lists but a system without their -dev packages lacks).
slibs="$libdir/libanchor.a $(sed -n 's/^Libs.private: //p' "$pc") $(pkg-config --libs $(pkg-config --print-requires-private anchor | awk '{print $1}'))"
# shellcheck disable=SC2086
"$cc" $extra "$src/examples/embed.c" $cflags $slibs -o "$tmp/embed_static" || fail "embed.c does not link with libanchor.a"
readelf -d "$tmp/embed_static" | grep -q 'NEEDED.*libanchor' && fail "embed_static needs libanchor.so"

run() { LD_LIBRARY_PATH=$libdir "$@"; }
run "$tmp/embed" "$tmp/w1" >"$tmp/out1" || { cat "$tmp/out1"; fail "embed (random model) failed"; }
cat "$tmp/out1"
run "$tmp/embed" "$tmp/w2" "$tmp/w1/model" >"$tmp/out2" || { cat "$tmp/out2"; fail "embed (saved model) failed"; }
cat "$tmp/out2"
# a model folder with a tokenizer, from the installed CLI
"$prefix/bin/anchor" demo init --out "$tmp/demo" --hidden 32 --layers 2 --intermediate 64 >/dev/null 2>&1 || fail "installed anchor demo init"
run "$tmp/embed" "$tmp/w4" "$tmp/demo" >"$tmp/out4" || { cat "$tmp/out4"; fail "embed (demo model) failed"; }
cat "$tmp/out4"
"$tmp/embed_static" "$tmp/w3" >"$tmp/out3" || { cat "$tmp/out3"; fail "embed_static failed"; }

version=$(sed -n 's/^#define ANCHOR_VERSION_STRING "\(.*\)"$/\1/p' "$incdir/anchor/version.h")
[ "$version" = "$(pkg-config --modversion anchor)" ] || fail "version.h says $version, anchor.pc $(pkg-config --modversion anchor)"
expect() { grep -q -x -F -e "$2" "$1" || fail "$(basename "$1") lacks the line: $2"; }
expect "$tmp/out1" "anchor $version"
expect "$tmp/out1" "model: LlamaForCausalLM (llama), 2 layers, hidden 32, vocab 64, 20640 parameters"
expect "$tmp/out1" 'chat: <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'
expect "$tmp/out1" 'store: item-1 done {"answer":42}'
expect "$tmp/out1" "saved: $tmp/w1/model"
[ "$(grep -c '^score: pair' "$tmp/out1")" = 2 ] || fail "expected two score lines"
grep -q '^generated: 6 tokens:' "$tmp/out1" || fail "expected 6 generated tokens"
expect "$tmp/out4" "model: LlamaForCausalLM (llama), 2 layers, hidden 32, vocab 301, 28224 parameters"
expect "$tmp/out4" "decoded: hello world"
grep -q '^tokens: 11 of a vocabulary of' "$tmp/out4" || fail "expected 11 tokens for 'hello world'"
# the model saved and loaded again through the public API computes the same
grep -e '^model:' -e '^score:' -e '^generated:' "$tmp/out1" >"$tmp/c1"
grep -e '^model:' -e '^score:' -e '^generated:' "$tmp/out2" >"$tmp/c2"
cmp -s "$tmp/c1" "$tmp/c2" || { diff "$tmp/c1" "$tmp/c2"; fail "the reloaded model differs"; }
sed "s|$tmp/w3|$tmp/w1|" "$tmp/out3" | cmp -s - "$tmp/out1" || { diff "$tmp/out1" "$tmp/out3"; fail "the static build prints otherwise"; }
echo "embed: shared and static builds agree; reload round trip exact"
