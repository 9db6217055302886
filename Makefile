# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run    create .venv, install Newswatch, start the service on config/watch.yaml
#   make test   create .venv, install Newswatch with its test extras, run the suite
# The install lines are the README's and the Dockerfile's (tests/test_container.py checks).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config/watch.yaml

.PHONY: run once digest test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/newswatch run --config $(CONFIG)

once: $(VENV)/.installed
	$(BIN)/newswatch once --config $(CONFIG)

digest: $(VENV)/.installed
	$(BIN)/newswatch digest --config $(CONFIG)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test,bench]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/topic_eval.py
	$(BIN)/python bench/dedupe_eval.py --compare
	$(BIN)/python bench/dedupe_scale.py
	$(BIN)/python bench/extract_quality.py
	$(BIN)/python bench/flood.py
	$(BIN)/python bench/trickle.py
	$(BIN)/python bench/memory.py --quick
	$(BIN)/python bench/search_bench.py

clean:
	rm -rf $(VENV) .pytest_cache
