# Triton without NGC: the real tritonserver 2.51 of PyPI's nvidia-pytriton, CPU only, serving
# `backend: "onnxruntime"` with NVIDIA's own onnxruntime_backend r24.10 (built here from source,
# as the NGC 24.10 image has it), or with our Python-based backend (TRITON_ONNXRUNTIME_BACKEND=python).
# The compose cpu profile runs it with the same command (x-triton-command) as the NGC image;
# /usr/local/bin/tritonserver adds the backend folder.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- stage 1: NVIDIA's backend from the upstream sources that `make images` stages -----------------
FROM ${PYTHON_IMAGE} AS native-backend
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cmake g++ make rapidjson-dev googletest git curl >/dev/null \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/build-venv
ARG NATIVE_ORT_CPU_WHEEL=onnxruntime==1.19.2
# backends/onnxruntime_native/build.sh; an empty sources folder makes it clone the same refs.
COPY build/native-sources/ /src/third_party/
COPY backends/onnxruntime_native/ /src/backends/onnxruntime_native/
RUN ONNXRUNTIME_BACKEND_SOURCES=/src/third_party NATIVE_BACKEND_BUILD_DIR=/out \
    NATIVE_ORT_CPU_WHEEL=${NATIVE_ORT_CPU_WHEEL} PYTHON=/opt/build-venv/bin/python \
    bash /src/backends/onnxruntime_native/build.sh cpu

# --- stage 2: the server ---------------------------------------------------------------------
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
COPY --from=native-backend /out/cpu/backend/ /opt/onnxruntime_native/cpu/backend/
COPY stack_settings/ stack_settings/
COPY local_stack/ local_stack/
COPY backends/ backends/
# Assemble /opt/tritonserver/backends (python + onnxruntime, native or ours) and the tritonserver
# wrapper; numpy<2 in the venv that is first on PATH (the stub's numpy trap) and ONNX Runtime's
# C API 19 (the native backend's) are checked here, at build time.
ARG TRITON_ONNXRUNTIME_BACKEND=native
RUN TRITON_ONNXRUNTIME_BACKEND=${TRITON_ONNXRUNTIME_BACKEND} NATIVE_BACKEND_VARIANT=cpu \
    NATIVE_BACKEND_BUILD_DIR=/opt/onnxruntime_native \
    python -m local_stack.triton_image /opt/tritonserver /usr/local/bin/tritonserver

USER triton-server
ENTRYPOINT []
CMD ["tritonserver", "--help"]
