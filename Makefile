# The two README commands: `make cluster` (run a local cluster) and `make test` (run every test).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CLUSTER_DIR ?= $(HOME)/pocketmq-cluster

.PHONY: venv interop-deps test calendar-smoke chaos cluster cluster-start cluster-stop

$(VENV)/.installed: pyproject.toml setup.py src/pocketmq/_speedups.c src/pocketmq/proxy/messaging.proto
	@test -x $(PY) || { echo "PocketMQ: creating $(VENV)"; python3 -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,bench]'
	$(PY) -m pocketmq.proxy.stubs
	@touch $@

venv: $(VENV)/.installed

# Official clients and a real Apache RocketMQ for interop tests: Maven jars, Go driver.
interop-deps: venv
	bash tests/interop/setup.sh

# Two workers for the tests that may share the machine (they mostly wait on real processes), then
# the `serial` ones alone (fixed ports, or `mqshutdown`, which stops every local server).
TEST_WORKERS ?= 2
test: venv interop-deps
	@$(PY) -m pytest -n $(TEST_WORKERS) -m "not serial" tests; parallel=$$?; \
	$(PY) -m pytest -m serial tests; serial=$$?; \
	[ $$parallel -eq 0 ] && [ $$serial -eq 0 ]

# The calendar smoke alone (also part of `make test`): servers, clients and mqadmin under
# libfaketime across new year's midnight and on the 28th of a month at 21:00, TZ=Europe/Berlin.
calendar-smoke: venv interop-deps
	$(PY) -m pytest tests/integration/test_calendar_smoke.py

# The nemesis soak (issue 17): the suite of tests/fault/test_nemesis.py with faults for
# NEMESIS_SECONDS (the file-store controller; the etcd shape gets half). Needs root (network
# namespaces). NEMESIS_SEED=<seed> replays a run; its report (write gaps, consumer stall) is printed.
NEMESIS_SECONDS ?= 600
chaos: venv interop-deps
	NEMESIS_SECONDS=$(NEMESIS_SECONDS) $(PY) -m pytest -s -rx tests/fault/test_nemesis.py

PRESET ?= 2m-2s-sync

# Foreground: starts 2 name servers + the preset, shows clusterList, stops cleanly on Ctrl-C.
cluster: venv
	bash scripts/cluster.sh run --preset $(PRESET) --dir $(CLUSTER_DIR)

cluster-start: venv
	bash scripts/cluster.sh start --preset $(PRESET) --dir $(CLUSTER_DIR)

cluster-stop:
	bash scripts/cluster.sh stop --dir $(CLUSTER_DIR)
