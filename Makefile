# 云链销通 — `make run` serves the demo, `make test` runs the whole suite, `make bench` measures.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint clean debian-packages system-deps lighthouse

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

# The Debian packages the tests drive (Chromium, CJK fonts, PostgreSQL, nginx-rtmp, Prometheus)
debian-packages:
	@.ci/debian-packages --all

# As root: install the missing ones. Otherwise: print the exact command and stop.
system-deps:
	@missing="$$(.ci/debian-packages | tr '\n' ' ' | sed 's/ *$$//')"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make: installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	  echo "make: the tests need these Debian packages: $$missing"; \
	  echo "  sudo apt-get update && sudo apt-get install -y $$missing"; \
	  exit 1; \
	fi

test: system-deps $(VENV)/.test-installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.test-installed lighthouse
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Lighthouse (npm) for the bench's workbench_lighthouse section only, outside the repository
# (Lighthouse 12: Debian 12's Node is older than Lighthouse 13 wants)
LIGHTHOUSE_DIR ?= $(HOME)/.cache/yunlian-lighthouse
lighthouse:
	@test -x $(LIGHTHOUSE_DIR)/node_modules/.bin/lighthouse || \
	  npm install --no-audit --no-fund --prefix $(LIGHTHOUSE_DIR) lighthouse@12.8.2

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache
