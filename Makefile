# wu: two commands do everything on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := git curl openssl libseccomp-dev libcap-dev libarchive-dev libzstd-dev liblz4-dev libacl1-dev libsqlite3-dev zstd python3 chromium busybox-static
BENCH_PACKAGES := bubblewrap
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: api-fuzz deps bench-deps build release test demo bench-bundle bench-sandbox bench-compat bench-orchestrator bench-e2e fuzz clean

## deps: install the C libraries wu builds against, when missing (apt-get).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

bench-deps: deps
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## build: debug build of every executable.
build: deps
	$(SWIFT) build

## release: optimized, statically linked executables in .build/release.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

## test: the whole test suite, built once. Suites run one after another: several measure CPU quotas,
## wall clocks and cgroup peaks for real, and two cores shared with parallel suites make them flaky.
## Then a one-minute schemathesis smoke (20 s per role, the fuzzing phase) on the orchestrator `swift test`
## built: no 5xx, every answer as documented. It leaves out the event stream and the claim, whose
## long polls hold a request for up to a minute each; `make api-fuzz` covers them.
API_FUZZ_SMOKE := API_FUZZ_SECONDS=20 API_FUZZ_EXAMPLES=10 API_FUZZ_PHASES=fuzzing API_FUZZ_EXCLUDE='^/v1/(events|runners/claim)$$'
test: deps
	$(SWIFT) test --no-parallel
	$(API_FUZZ_SMOKE) bash scripts/api-fuzz.sh .build/debug

## demo: the main job end to end. Builds every product: the demo runs wu, wu-cli,
## wu-orchestrator and wu-runner (`.ci/run` runs it first, on a fresh clone, to keep that true).
demo: deps
	$(SWIFT) build
	bash scripts/demo.sh .build/debug

## bench-bundle: wu pack / verify+extract against tar --zstd + sha256sum on a 1 GiB job.
bench-bundle: deps
	$(SWIFT) build -c release --product wu && $(SWIFT) build -c release --product wu-cli
	python3 scripts/bench-bundle.py .build/release/wu

## bench-sandbox: wu sandbox exec against bubblewrap and unshare starting /bin/true.
bench-sandbox: bench-deps
	bash scripts/bench-sandbox.sh

## bench-compat: CPython's own regression tests on the host, under bubblewrap and under wu's default
## profile: the share of the host's passing cases each keeps, and the cases lost (tens of minutes).
bench-compat: deps
	bash scripts/bench-compat.sh

## bench-orchestrator: claim -> complete throughput of a real server on loopback.
bench-orchestrator: deps
	bash scripts/bench-orchestrator.sh

## bench-e2e: 1,000 trivial units through 2 real runners: units/s and overhead per unit.
bench-e2e: deps
	bash scripts/bench-e2e.sh

## api-fuzz: schemathesis (PyPI) against a real orchestrator's /openapi.json with each role's token:
## no 5xx, every response as documented (API_FUZZ_SECONDS per role, default 120).
api-fuzz: deps
	$(SWIFT) build --product wu-orchestrator
	bash scripts/api-fuzz.sh .build/debug

## fuzz: libFuzzer over the manifest, bundle, profile and output-archive parsers, FUZZ_SECONDS each
## (docs/fuzzing.md). New inputs go to Fuzz/corpus/<target>; a crash stops the run with its reproducer.
## Its own build directory and flags: `swift build` and `make test` do not build the fuzzer.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= manifest bundle profile output verify
fuzz: deps
	WU_FUZZ=1 $(SWIFT) build --build-path .build-fuzz --product wu-fuzz \
	  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
	  -Xlinker $$(clang -print-file-name=libclang_rt.fuzzer_no_main-$$(uname -m).a) -Xlinker -lstdc++
	bash Fuzz/run.sh .build-fuzz/debug/wu-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf .build
