# 云链销通 — `make run` serves the demo, `make test` runs the whole suite, `make bench` measures.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint clean

$(VENV)/.run-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.run-installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.run-installed
	$(PY) -m web.cli serve --host $(HOST) --port $(PORT)

test: $(VENV)/.test-installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(PY) -m benchmarks.run $(BENCH_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache
