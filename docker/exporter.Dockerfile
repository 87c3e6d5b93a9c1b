# The exporter service: PyTorch (CPU build) -> ONNX -> verified model repository on a volume.
# Builds FROM the official python image (PYTHON_IMAGE in .env) or, where no image registry answers,
# FROM the Debian-built base (docker/base/build.sh; docker/compose.no-registry.yaml selects it).
# No `# syntax=` line and no RUN --mount: the classic builder (no BuildKit) must build it too.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv \
    && useradd --create-home --uid 1000 stack && mkdir -p /workspace && chown stack /workspace
WORKDIR /opt/stack

# Dependencies first, from the lock (hashes; docs/dependencies.md), so code edits keep this layer.
# torch==...+cpu comes from docker/wheels/ (`make images` copies the machine's CPU wheel there)
# or PyTorch's CPU index (PyPI's default torch is the CUDA build).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY docker/wheels/ /tmp/wheels/
COPY requirements/exporter.lock requirements/
RUN pip install --require-hashes --find-links /tmp/wheels \
      ${TORCH_INDEX_URL:+--extra-index-url $TORCH_INDEX_URL} -r requirements/exporter.lock \
    && rm -rf /tmp/wheels
# Then the code (README is a stub: pyproject names it).
COPY pyproject.toml ./
COPY stack_settings/ stack_settings/
COPY exporter/ exporter/
# rollout/: `docker compose run --rm exporter rollout|rollback ...` (docs/rollout.md)
COPY rollout/ rollout/
RUN touch README.md && pip install --no-deps .

USER stack
ENTRYPOINT ["python", "-m", "exporter"]
