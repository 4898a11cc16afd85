# The DSAR service. `make run` brings everything up on dev defaults;
# `make test` runs the whole suite against real Postgres and Temporal.
SHELL := /bin/bash
GO ?= go
export GOFLAGS ?=

.PHONY: all build tools run test vet workflowcheck test-short bench chaos fuzz clean help

all: build

help:
	@echo "make run    start Postgres, the Temporal dev server and the service (dev mode)"
	@echo "make test   go vet, workflowcheck and go test -race against real Postgres and Temporal"
	@echo "make bench  benchmarks (prints figures)"
	@echo "make chaos  the crash, outage and restart run"
	@echo "make fuzz   a short run of every fuzz target"

build:
	$(GO) build -o bin/dsar ./cmd/dsar

# The Temporal CLI (dev server) is built from its own module, tools/go.mod.
tools: bin/temporal
bin/temporal: tools/go.mod tools/go.sum
	$(GO) build -modfile=tools/go.mod -o bin/temporal github.com/temporalio/cli/cmd/temporal

run:
	@scripts/run.sh

vet:
	$(GO) vet ./...

# workflowcheck is pinned in its own module (tools/workflowcheck/go.mod) and
# built from the module cache, so `make test` needs no network.
bin/workflowcheck: tools/workflowcheck/go.mod tools/workflowcheck/go.sum
	$(GO) build -modfile=tools/workflowcheck/go.mod -o bin/workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck

workflowcheck: bin/workflowcheck
	bin/workflowcheck ./workflows/...

test: vet workflowcheck tools
	@scripts/with-postgres.sh $(GO) test -race -count=1 -timeout 30m ./...

test-short: tools
	@scripts/with-postgres.sh $(GO) test -short -count=1 ./...

# The benchmark (cmd/dsarbench): starts Temporal, dsar serve and dsar worker
# on loopback over a fresh database and prints its figures; BENCHFLAGS sets
# the sizes (e.g. BENCHFLAGS="-queue 100000 -scale 1000").
BENCHFLAGS ?=
bench: tools
	@scripts/with-postgres.sh $(GO) run ./cmd/dsarbench $(BENCHFLAGS)

# The chaos run (cmd/dsarchaos): request scenarios on two APIs and two
# workers while they, the Temporal dev server and a private Postgres are
# killed and restarted at random, Postgres is kept away for minutes in the
# middle of closes and deadlines, and the mail provider fails for minutes;
# then it checks erasure, projections, audit, mail and workflows. Loopback
# only, bounded in time (about 12 minutes). CHAOSFLAGS: -runs, -parallel,
# -closes, -deadlines, -mail-runs, -every, -outage, -mail-outage, -alerts,
# -timeout, -seed, -keep (docs/performance.md).
CHAOSFLAGS ?=
chaos: tools
	$(GO) run ./cmd/dsarchaos $(CHAOSFLAGS)

# Every fuzz target, one after the other, each for FUZZTIME (scripts/fuzz.sh).
FUZZTIME ?= 10s
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

clean:
	rm -rf bin
