# Developer entry points. PostgreSQL and Redis run locally through scripts/services.sh;
# see the README for what each target needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
ARGS ?=


.PHONY: help venv node-client run test test-fast bench bench-http bench-create bench-e2e bench-memory bench-floor bench-reference bench-interleaved wrk chaos clean-data lint

help:
	@echo "make venv        create $(VENV) and install the package with its test extras"
	@echo "make run         the gateway on local PostgreSQL and Redis (Ctrl-C stops everything)"
	@echo "make test        pytest on a separate local PostgreSQL and Redis; ARGS=\"-k foo\" passes through"
	@echo "make test-fast   the fast tier: unit tests and in-process integration tests (about a minute)"
	@echo "make bench       engine benchmark (10,000 payments in flight); ARGS=\"N SHARDS\""
	@echo "make bench-http  HTTP benchmark (orders + UPI payments); ARGS=\"SECONDS CONCURRENCY\""
	@echo "make bench-create  wrk: POST /api/v1/payments at c=1,16,64; ARGS=\"--seconds 20 --mode serve\""
	@echo "make bench-e2e   10,000 payments through HTTP to the last webhook; ARGS=\"--payments N --events E1,E2|'*'\""
	@echo "                 (default events payment.success,payment.failed; '*' all, as before)"
	@echo "                 and PostgreSQL's top statements per payment (--pg-top N, default 15)"
	@echo "make bench-memory  RSS and PSS of each process of serve --processes 2 over 200,000 creates"
	@echo "                 and 10 idle minutes; ARGS=\"--creates N --idle-minutes M\""
	@echo "make bench-floor wrk against the bare HTTP front: what a request costs before the gateway"
	@echo "make bench-reference REF=checkout  side by side with the reference gateway, ratios;"
	@echo "                 ARGS=\"--rounds 2 --seconds 20 --payments 1000\" (docs/benchmarks.md)"
	@echo "make bench-interleaved BEFORE=checkout  bench-e2e on BEFORE and this checkout in turn,"
	@echo "                 PostgreSQL's work per payment and statements on each; ARGS=\"--rounds 3\""
	@echo "make chaos       kill -9, Redis and PostgreSQL restarts under load, then invariants; ARGS=\"MINUTES\""
	@echo "make lint        ruff and mypy"
	@echo "make clean-data  stop the local services and delete their data"

venv: $(STAMP)

# Re-install only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

run: venv
	scripts/run.sh

test: venv node-client wrk
	scripts/test.sh $(ARGS)

# The tier to run on every change: unit tests, and integration tests that start no process.
test-fast: venv
	scripts/test.sh -m "unit or (integration and not processes and not slow)" $(ARGS)

# The official Node client of the /v1 dialect, which the tests drive (never installed by a
# test itself): razorpay 2.9.x from the npm registry, into a git-ignored folder.
NODE_PREFIX := .paystate/node
node-client: $(NODE_PREFIX)/node_modules/razorpay/package.json

$(NODE_PREFIX)/node_modules/razorpay/package.json:
	@command -v npm >/dev/null || { echo "install node and npm (Debian: nodejs npm)" >&2; exit 1; }
	mkdir -p $(NODE_PREFIX)
	npm install --prefix $(NODE_PREFIX) --no-audit --no-fund --no-save 'razorpay@~2.9.8'


bench: venv
	scripts/bench.sh bench/engine_inflight.py $(ARGS)

bench-http: venv
	scripts/bench.sh bench/http_load.py $(ARGS)

bench-create: venv wrk
	scripts/bench.sh bench/create.py $(ARGS)

bench-e2e: venv
	scripts/bench.sh bench/e2e.py $(ARGS)

bench-memory: venv wrk
	scripts/bench.sh bench/memory.py $(ARGS)

bench-floor: venv wrk
	.venv/bin/python bench/http_floor.py $(ARGS)

# BEFORE: another checkout (its own `make venv`), e.g. `git worktree add --detach /tmp/before C`.
bench-interleaved: venv
	@[ -n "$(BEFORE)" ] || { echo "BEFORE=path to the checkout to compare with" >&2; exit 2; }
	.venv/bin/python bench/interleaved.py --before "$(BEFORE)" --after . $(ARGS)

# REF: a checkout of github.com/NagaSaiTejo/payment-gateway-async at 0d58a25 (never vendored).
bench-reference: venv wrk
	@[ -n "$(REF)" ] || { echo "REF=path to a checkout of the reference gateway:" \
	  "git clone https://github.com/NagaSaiTejo/payment-gateway-async &&" \
	  "git -C payment-gateway-async checkout 0d58a25" >&2; exit 2; }
	.venv/bin/python bench/reference.py --ref "$(REF)" $(ARGS)

# wrk from the Debian packages, when missing (as root; otherwise say how).
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk </dev/null; } || \
	  { echo "install wrk: sudo apt-get install wrk" >&2; exit 1; }

# Its own services instance (PostgreSQL 54379, Redis 63849), which it restarts and stops.
chaos: venv
	$(VENV)/bin/python bench/chaos.py $(ARGS)

lint: venv
	$(VENV)/bin/ruff check paystate tests
	$(VENV)/bin/mypy paystate

clean-data:
	scripts/services.sh clean run
	scripts/services.sh clean test
	scripts/services.sh clean bench
	scripts/services.sh clean chaos
	scripts/services.sh clean reference
	scripts/services.sh clean bench-paystate
