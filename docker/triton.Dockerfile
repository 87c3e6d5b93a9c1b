# Triton without NGC: the real tritonserver 2.51 of PyPI's nvidia-pytriton with this stack's
# Python-based `onnxruntime` backend, CPU only. The compose cpu profile runs it with the same
# command (x-triton-command) as the NGC image; /usr/local/bin/tritonserver adds the backend folder.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
# The stub embeds libpython3.11 (the official image has it; Debian's base installs libpython3.11).
# /traces: the named volume of Triton's request traces starts with this owner (docs/profiling.md).
RUN python3 -m venv /opt/venv && useradd --create-home --uid 1000 triton-server \
    && mkdir -p /traces && chown triton-server /traces
WORKDIR /opt/stack

# Dependencies from the lock (hashes; docs/dependencies.md), before the code.
COPY requirements/server.lock requirements/
RUN pip install --require-hashes -r requirements/server.lock
COPY stack_settings/ stack_settings/
COPY local_stack/ local_stack/
COPY backends/ backends/
# Assemble /opt/tritonserver/backends (python + onnxruntime) and the tritonserver wrapper; numpy<2
# in the venv that is first on PATH (the stub's numpy trap) is checked here, at build time.
RUN python -m local_stack.triton_image /opt/tritonserver /usr/local/bin/tritonserver

USER triton-server
ENTRYPOINT []
CMD ["tritonserver", "--help"]
