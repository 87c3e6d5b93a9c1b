# The client service: load generator (HTTP/gRPC, system or CUDA shared memory) + client metrics.
# CLIENT_LOCK=client-cuda adds cuda-python for --shm cuda (the gpu profile builds it so).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
# uid 1000 like the triton image's user: both own the system shm regions in /dev/shm.
RUN python3 -m venv /opt/venv \
    && useradd --create-home --uid 1000 stack && mkdir -p /reports /traces && chown stack /reports /traces
WORKDIR /opt/stack

# Dependencies first, from the lock (hashes; docs/dependencies.md): code edits keep this layer.
ARG CLIENT_LOCK=client
COPY requirements/${CLIENT_LOCK}.lock requirements/
RUN pip install --require-hashes -r requirements/${CLIENT_LOCK}.lock
COPY pyproject.toml ./
COPY stack_settings/ stack_settings/
COPY client/ client/
COPY profiling/ profiling/
RUN touch README.md && pip install --no-deps .

USER stack
CMD ["python", "-m", "client", "--help"]
