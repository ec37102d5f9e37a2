# Dunning Desk: two commands for a newcomer, `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export UV_COMPILE_BYTECODE := 1
SIZES ?= 10000 100000 1000000

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test lint bench accuracy clean chromium java

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.4"
	@$(UV) pip install --quiet --python $(PY) -e ".[dev]"
	@touch $@

demo: setup
	$(VENV)/bin/dunning demo

# The browser tests drive Debian's chromium (playwright cannot download browsers here).
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The Spark tests need a Java runtime (Spark 3.5 runs on Java 17).
java:
	@command -v java >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

test: setup chromium java
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: setup
	$(PY) -m benchmarks.run --sizes $(SIZES) --demo $(if $(REUSE),--reuse-books)

# Model quality across generated books (forecast and risk vs baselines and the simulator's truth).
accuracy: setup
	$(PY) -m benchmarks.accuracy $(if $(SEEDS),--seeds $(SEEDS))

clean:
	rm -rf build demo_data dbt_project/target dbt_project/logs .pytest_cache
