# orbitlink: `make demo` runs the main job, `make test` runs the tests. Both set up first.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint docs bench peers clean vendor

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# setuptools tells every editable install to beware of same-named folders (an information
	@# notice, not a fault of this project): silenced so a real warning stands out.
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# `make demo KEEP=1` keeps the broker, worker and dashboard running after the summary.
demo: setup
	$(VENV)/bin/orbitlink demo $(if $(KEEP),--keep-running)

test: setup lint
	$(PY) -m pytest

lint: setup  # one layout and one lint for the whole tree (configured in pyproject.toml)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

docs: setup  # regenerate the settings tables the docs embed (a test checks they are current)
	$(PY) tools/update_docs.py

vendor:  # re-fetch the dashboard's uPlot from npm: pinned version, checked against its sha512
	bash tools/vendor_uplot.sh

bench: setup peers
	$(PY) -m bench

# The peers the benchmarks compare with, beside Stone Soup (in the bench extra): LLNL's SSAPy.
# Its sdist builds a C++ extension with CMake, which needs the venv's own setuptools (>= 77,
# for its license field) and headers, so it is built without pip's build isolation.
PEERS = $(VENV)/.peers-installed
peers: $(PEERS)

$(PEERS): $(STAMP)
	$(PY) -m pip install --quiet cmake 'setuptools>=77'
	$(PY) -m pip install --quiet --no-build-isolation 'llnl-ssapy==1.1.12'
	touch $(PEERS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

.PHONY: ci kafka kafka-start kafka-stop
ci:  # what CI runs: every test on the embedded broker, then the kafka tests on Apache Kafka
	bash ci/run-tests.sh
kafka:  # fetch Apache Kafka's jars (Maven Central, ~43 MB) for `orbitlink broker --engine kafka`
	@bash ci/kafka.sh fetch
kafka-start:
	@bash ci/kafka.sh start
kafka-stop:
	@bash ci/kafka.sh stop
