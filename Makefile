# Stele -- convenience targets over CMake. The build itself lives in CMakeLists.txt.
#
#   make          configure (warnings are errors) and build into build/
#   make test     deps, build, ctest; then an address+undefined sanitizer build (clang) and ctest
#   make run      deps, build, then the demo
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
C_FILES = $(shell find src include cli tests bench -name '*.[ch]' 2>/dev/null)

.PHONY: all deps test asan run bench format clean

all:
	cmake -S . -B $(BUILD) -DSTELE_WERROR=ON
	cmake --build $(BUILD) -j2

deps:
	bash scripts/install-deps

asan:
	CC=clang cmake -S . -B $(ASAN) -DSTELE_WERROR=ON -DSTELE_SANITIZE=address,undefined \
		-DSTELE_BUILD_BENCH=OFF
	cmake --build $(ASAN) -j2

# Both test runs happen even if the first fails; the summary adds up ctest's own result lines.
test: deps all
	@status=0; rm -f $(BUILD)/ctest.log $(ASAN)/ctest.log; \
	$(CTEST) --test-dir $(BUILD) | tee $(BUILD)/ctest.log || status=1; \
	{ $(MAKE) --no-print-directory asan && \
	  $(CTEST) --test-dir $(ASAN) | tee $(ASAN)/ctest.log; } || status=1; \
	cat $(BUILD)/ctest.log $(ASAN)/ctest.log 2>/dev/null | awk \
	  '/tests passed, .* tests failed out of/ { failed += $$4; total += $$NF } \
	   END { printf "%d passed, %d failed\n", total - failed, failed }'; \
	exit $$status

run: deps all
	bash scripts/demo.sh

bench: all
	$(BUILD)/stele-bench

format:
	clang-format -i $(C_FILES)

clean:
	rm -rf $(BUILD) build-*
