# orbitlink: `make demo` runs the main job, `make test` runs the tests. Both set up first.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/orbitlink demo

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

.PHONY: ci kafka-start kafka-stop
ci:  # what CI runs: every test on the embedded broker, then the kafka tests on Apache Kafka
	bash ci/run-tests.sh
kafka-start:
	@bash ci/kafka.sh start
kafka-stop:
	@bash ci/kafka.sh stop
