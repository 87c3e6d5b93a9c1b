# syntax=docker/dockerfile:1.7
# The exporter service: PyTorch (CPU build) -> ONNX -> verified model repository on a volume.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 1000 stack && mkdir -p /workspace && chown stack /workspace
WORKDIR /opt/stack

# Dependencies first (cached layer), code second. CPU-only torch: the exporter needs no GPU,
# and the CUDA build would add gigabytes.
COPY pyproject.toml README.md ./
COPY stack_settings/ stack_settings/
COPY exporter/ exporter/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --extra-index-url https://download.pytorch.org/whl/cpu '.[exporter]'

USER stack
ENTRYPOINT ["python", "-m", "exporter"]
