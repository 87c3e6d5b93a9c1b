# The two commands a user needs: `make up` (the whole pipeline) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON_BOOTSTRAP ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up down status test lint bench venv clean images prereqs

venv: $(STAMP)

# Re-install only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all]'
	@touch $(STAMP)

## export -> serve -> load -> report (Docker Compose on a GPU host, else the local path)
up: venv
	$(PY) -m local_stack.launch up

## stop everything `make up` started (safe to run twice)
down:
	@if [ -x $(PY) ]; then $(PY) -m local_stack.launch down; else echo "nothing to stop (no $(VENV))"; fi

status: venv
	$(PY) -m local_stack status

## the images of the compose cpu profile, from Debian's archive + PyPI (no image registry)
images:
	docker/build-images.sh

## what `make test` needs to skip nothing (Prometheus, Compose v2, a Docker engine; root): CI runs it
prereqs:
	scripts/install-prereqs.sh

## the test suite (what CI runs)
test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean: down
	rm -rf .stack

## benchmarks: floor, serving overhead, sweep, batching, client vs reference -> bench/results/
bench: venv
	$(PY) -m bench

## where each request's time goes, client send to ORT kernels (needs a running stack: make up)
## -> .stack/profiling/<model>/{timeline.json,summary.txt,request.png}; PROFILE_ARGS=--help
.PHONY: profile
profile: venv
	$(PY) -m profiling $(PROFILE_ARGS)
