# Stele -- convenience targets over CMake. The build itself lives in CMakeLists.txt.
#
#   make          configure (warnings are errors) and build into build/
#   make test     deps, build, ctest; an address+undefined and a thread sanitizer build (clang)
#                 with their tests; 60 s of every fuzz target (scripts/test-all.sh)
#   make torture  the long campaign: 100,000 power-loss seeds and 10,000 kill -9 cycles
#   make fuzz     every fuzz target for FUZZ_SECONDS (default 60); make tsan: the TSan tests
#   make run      deps, build, then the server (steled) on ./data
#   make demo     deps, build, then a short CLI session (through make run's server if it runs, else on ./data)
#   make bench    build, then the benchmarks
#   make deps     install missing Debian packages
#   make format   clang-format every C file
#   make clean    remove the build directories

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# Steps run in the order written; cmake parallelises the compiling.
.NOTPARALLEL:

BUILD := build
ASAN := build-asan
CTEST := ctest --output-on-failure --no-tests=error -j2
C_FILES = $(shell find src include common cli server tests bench examples -name '*.[ch]' 2>/dev/null)

.PHONY: all deps test asan tsan fuzz torture run demo bench format clean

all:
	cmake -S . -B $(BUILD) -DSTELE_WERROR=ON
	cmake --build $(BUILD) -j2

deps:
	bash scripts/install-deps

asan:
	CC=clang cmake -S . -B $(ASAN) -DSTELE_WERROR=ON -DSTELE_SANITIZE=address,undefined \
		-DSTELE_BUILD_BENCH=OFF
	cmake --build $(ASAN) -j2

# The normal build's tests, the sanitizer builds' tests and the fuzzers (scripts/test-all.sh).
test: deps all
	bash scripts/test-all.sh

# Thread sanitizer build and the concurrency tests only.
tsan: deps
	bash scripts/tsan.sh

# The long reliability campaign: 100,000 power-loss seeds and 10,000 kill -9 cycles (hours).
torture: deps all
	bash scripts/torture.sh

# Every fuzz target for FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

# The server on the embedded default store ./data, with a first request to try.
run: deps all
	@echo "steled on ./data at http://127.0.0.1:2113 (Ctrl-C stops it). Try, in another terminal:"
	@echo "  curl -s -X POST http://127.0.0.1:2113/streams/order-1 -H 'Content-Type: application/json' -d '{\"events\":[{\"type\":\"OrderPlaced\",\"data\":{\"qty\":2}}]}'"
	@echo "  curl -s http://127.0.0.1:2113/streams/order-1"
	@echo "  curl -sN 'http://127.0.0.1:2113/subscribe?from=1'"
	$(BUILD)/steled --data ./data --listen 127.0.0.1:2113

# A short session with the stele CLI on ./data.
demo: deps all
	bash scripts/demo.sh

# The benchmarks (bench/run): install what is missing, build, run stele-bench (limits, in-process,
# HTTP) and stele-compare (Stele next to SQLite, PostgreSQL and NATS JetStream), write the JSON
# lines to bench/results/<date>-<mode>.jsonl and regenerate docs/benchmarks.md and docs/bench/*.png.
# bench-quick: 1 short run per figure (a few minutes); bench-large: 10M events, 256 clients (long).
.PHONY: bench-quick bench-large
bench:
	BUILD_DIR=$(BUILD) bash bench/run

bench-quick:
	BUILD_DIR=$(BUILD) bash bench/run --quick

bench-large:
	BUILD_DIR=$(BUILD) bash bench/run --large

format:
	clang-format -i $(C_FILES)

clean:
	rm -rf $(BUILD) build-*
