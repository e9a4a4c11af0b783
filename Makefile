# pgstash — the two commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
DEMO_DIR ?= /tmp/pgstash-demo
SWIFT_FLAGS ?=

.PHONY: all deps build release test demo demo-stop bench bench-quick bench-cache bench-metrics clean driver-suites fuzz fuzz-build

all: build

deps:
	@scripts/deps.sh

build: deps
	swift build $(SWIFT_FLAGS)

release: deps
	swift build -c release $(SWIFT_FLAGS)

# Every test: unit tests of the pure modules and integration tests against a real
# PostgreSQL 15 and Redis started on free loopback ports by scripts/with-servers.sh.
test: deps
	swift build $(SWIFT_FLAGS)
	PGSTASH_BIN=$(CURDIR)/.build/debug/pgstash scripts/with-servers.sh swift test --disable-xctest $(SWIFT_FLAGS)

# A throwaway PostgreSQL and Redis, and pgstash in front of them, left running.
demo: release
	@scripts/demo.sh "$(DEMO_DIR)"

demo-stop:
	@scripts/demo.sh --stop "$(DEMO_DIR)"

bench: release
	@bench/run.sh --full

bench-quick: release
	@bench/run.sh --quick

# The result cache against direct PostgreSQL and PgBouncer (docs/benchmarks.md, "The result
# cache"): quick by default (2 rounds × 5 s, about 6–8 minutes); BENCH_CACHE_FLAGS= for 3 × 10 s.
BENCH_CACHE_FLAGS ?= --quick
bench-cache: release
	@bench/run.sh --cache $(BENCH_CACHE_FLAGS)

# [metrics] enabled vs disabled: pgbench -S at 64 clients, interleaved rounds, the cost in %
# (docs/benchmarks.md, "Metrics on and off"; about 2–3 minutes).
bench-metrics: release
	@bench/metrics-cost.sh

# Real drivers' own test suites, direct and through pgstash (see docs/drivers.md).
driver-suites: deps
	swift build $(SWIFT_FLAGS)
	PGSTASH_BIN=$(CURDIR)/.build/debug/pgstash drivers/run-suites.sh

# libFuzzer harnesses of the decoders, SCRAM and the config loader (docs/fuzzing.md): each runs
# FUZZ_SECONDS from the seed corpus in fuzz/corpus, one at a time. Not part of `make test`,
# which replays the corpus instead. FUZZ_HARNESSES picks some: make fuzz FUZZ_HARNESSES=scram
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES ?=

fuzz-build:
	fuzz/build.sh $(FUZZ_HARNESSES)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_HARNESSES)

clean:
	rm -rf .build
