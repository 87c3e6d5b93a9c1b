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

# Layer 1, torch alone (the big one): local wheels first (docker/wheels/, filled by `make images`
# where the machine has the CPU wheel), else PyTorch's CPU index; PyPI's default is the CUDA build.
ARG TORCH_REQUIREMENT="torch>=2.13.0,<2.14"
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY docker/wheels/ /tmp/wheels/
RUN pip install --find-links /tmp/wheels ${TORCH_INDEX_URL:+--extra-index-url $TORCH_INDEX_URL} \
      "${TORCH_REQUIREMENT}" \
    && rm -rf /tmp/wheels
# Layer 2, the other dependencies: pyproject only (README is a stub), so code edits keep this layer.
COPY pyproject.toml ./
RUN touch README.md && pip install '.[exporter]' && pip uninstall -y triton-onnx-stack
# Layer 3, the code.
COPY stack_settings/ stack_settings/
COPY exporter/ exporter/
RUN pip install --no-deps '.[exporter]'

USER stack
ENTRYPOINT ["python", "-m", "exporter"]
