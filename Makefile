# anchor — top-level driver around CMake.
#   make          release build, CLI at build/anchor
#   make demo     the offline demonstration (anchor demo): tables printed, report in demo-run/
#   make test     release + ASan/UBSan builds, CTest suite on both; the threaded
#                 tests again under ThreadSanitizer (test-tsan)
#   make bench    benchmarks (see docs/performance.md)
#   make fuzz     libFuzzer targets (clang), run briefly (FUZZ_SECONDS=30 each)
#   make reference  regenerate the PyTorch fixtures
#   make clean
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DANCHOR_WERROR=ON
endif

.PHONY: all deps clients build asan tsan test test-release test-asan test-tsan bench fuzz clean reference demo

all: build

deps:
	@scripts/install-deps.sh --check >/dev/null 2>&1 || scripts/install-deps.sh

# the real clients of the client tests (node-llama-cpp, openai; pinned); those
# tests skip with a message when this could not install them
clients:
	@test -d scripts/clients/node_modules/node-llama-cpp || scripts/install-clients.sh || \
	  echo "clients: not installed; the tests that drive node-llama-cpp and openai will skip"

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

# DEMO_FLAGS: e.g. --fresh (start over), --quick, --seeds N, --out DIR
demo: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS) --target anchor_cli
	build/anchor demo $(DEMO_FLAGS)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DANCHOR_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)

test-release: build clients
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: asan clients
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer: the tests whose code starts threads (llm/batch.c workers,
# the store shared between processes, the test HTTP servers) and the CLI they
# run. die_after_fork=0: some tests fork a child that then starts threads.
TSAN_TESTS = test_llm_exec test_llm_http test_store test_store_shared test_revise test_revise_route test_ab test_serve
TSAN_TOOLS = $(basename $(notdir $(wildcard tests/tool_*.c)))
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DANCHOR_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target anchor_cli $(TSAN_TOOLS) $(TSAN_TESTS)

test-tsan: tsan
	cd build-tsan && TSAN_OPTIONS=die_after_fork=0:halt_on_error=1 ctest --output-on-failure -j $(JOBS) \
	  -R '^($(shell echo $(TSAN_TESTS) | tr ' ' '|'))$$'

test: test-release test-asan test-tsan

bench: build
	@ANCHOR_WITH_TORCH=1 scripts/install-deps.sh --check >/dev/null 2>&1 || echo "bench: python3-torch not installed; PyTorch peer skipped (ANCHOR_WITH_TORCH=1 scripts/install-deps.sh)"
	bench/run.sh build

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DANCHOR_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@for f in build-fuzz/fuzz_*; do n=$$(basename $$f); mkdir -p build-fuzz/corpus/$$n; \
	  echo "== $$n"; $$f -max_total_time=$${FUZZ_SECONDS:-30} build-fuzz/corpus/$$n fuzz/corpus/$$n || exit 1; done

# PyTorch reference fixtures (needs Debian's python3-torch: ANCHOR_WITH_TORCH=1 scripts/install-deps.sh)
reference:
	/usr/bin/python3 scripts/make_reference.py tests/fixtures/reference
	/usr/bin/python3 scripts/make_loss_reference.py tests/fixtures/loss
	/usr/bin/python3 scripts/make_lora_reference.py tests/fixtures/lora
	/usr/bin/python3 scripts/make_lora_step_reference.py tests/fixtures/lora_step

clean:
	rm -rf build build-asan build-tsan build-fuzz
