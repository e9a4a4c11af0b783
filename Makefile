# pgstash — the two commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
DEMO_DIR ?= /tmp/pgstash-demo
SWIFT_FLAGS ?=

.PHONY: all deps build release test demo demo-stop bench bench-quick clean driver-suites

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

# Real drivers' own test suites, direct and through pgstash (see docs/drivers.md).
driver-suites: deps
	swift build $(SWIFT_FLAGS)
	PGSTASH_BIN=$(CURDIR)/.build/debug/pgstash drivers/run-suites.sh

clean:
	rm -rf .build
