# The two commands a user needs: `make up` (the whole pipeline) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON_BOOTSTRAP ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every third-party package, pinned with hashes (docs/dependencies.md); `make lock` rewrites it.
LOCK := requirements/all.lock
# torch's CPU build (the lock's torch==...+cpu) is not on PyPI: it comes from a local wheel that pip
# already finds (find-links) or from PyTorch's CPU index, asked for torch alone.
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
LOCK_TARGET := import platform, sys; sys.exit(sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64")

.PHONY: up down status test lint bench venv clean images prereqs lock key rotate-key k8s native-backend

venv: $(STAMP)

# Re-install only when the dependency list or the lock changes. The lock is for CPython 3.11 on
# Linux x86-64; elsewhere the install falls back to pyproject's ranges, and says so. The project
# itself is built with the locked setuptools (--no-build-isolation): nothing unpinned comes in.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@if $(PY) -c '$(LOCK_TARGET)'; then \
	  awk '/^torch==/{p=1} p{print} p && !/\\$$/{p=0}' $(LOCK) > $(VENV)/torch.lock && \
	  echo "$(PY) -m pip install --require-hashes -r $(VENV)/torch.lock (+ PyTorch's CPU index)" && \
	  $(PY) -m pip install --quiet --require-hashes --no-deps --retries 1 --timeout 15 \
	    --extra-index-url $(TORCH_INDEX_URL) -r $(VENV)/torch.lock && \
	  echo "$(PY) -m pip install --require-hashes -r $(LOCK)"; \
	  $(PY) -m pip install --quiet --require-hashes -r $(LOCK) && \
	  $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .; \
	else \
	  echo "warning: $(LOCK) is for CPython 3.11 on Linux x86-64, not this Python:" \
	    "installing UNLOCKED from pyproject.toml (versions may differ from CI)" >&2; \
	  $(PY) -m pip install --quiet -e '.[all]'; \
	fi
	@touch $(STAMP)

## re-resolve requirements/*.lock after editing pyproject.toml (PyPI + TORCH_FIND_LINKS for torch's CPU wheel)
lock: venv
	$(PY) requirements/lock.py

## NVIDIA's ONNX Runtime backend r24.10 from source (cpu; gpu too where nvcc exists), cached
native-backend: venv
	PYTHON=$(PY) backends/onnxruntime_native/build.sh cpu
	@if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then \
	  PYTHON=$(PY) backends/onnxruntime_native/build.sh gpu; fi

## print the control-API key (NAME=grafana-admin-password: Grafana's), the compose stack's or the local one
key: venv
	@$(PY) -m launcher key show $(NAME)

## new control-API key; a running local server / compose triton restarts with it (docs/security.md)
rotate-key: venv
	$(PY) -m launcher key rotate

## export -> serve -> load -> report (Docker Compose on a GPU host, else the local path)
up: venv
	$(PY) -m launcher up

## stop everything `make up` started (safe to run twice)
down:
	@if [ -x $(PY) ]; then $(PY) -m launcher down; else echo "nothing to stop (no $(VENV))"; fi

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

## the Helm chart: render each shipped values file -> build/k8s/, validate (no cluster needed)
k8s: venv
	$(PY) -m deploy.render
