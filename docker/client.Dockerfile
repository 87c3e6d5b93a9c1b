# syntax=docker/dockerfile:1.7
# The client service: load generator with system/CUDA shared memory and client metrics.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 1000 stack && mkdir -p /reports && chown stack /reports
WORKDIR /opt/stack

COPY pyproject.toml README.md ./
COPY stack_settings/ stack_settings/
COPY client/ client/
COPY profiling/ profiling/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install '.[client]'

USER stack
CMD ["python", "-m", "client", "--help"]
