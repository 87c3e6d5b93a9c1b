# Prometheus and Alertmanager from Debian's archive (no image registry needed); compose's
# no-registry file uses it for both services, each with its own entrypoint.
ARG BASE_IMAGE=triton-onnx-stack/debian-python:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       prometheus prometheus-alertmanager >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus /alertmanager && chown nobody:nogroup /prometheus /alertmanager
USER nobody
ENTRYPOINT ["prometheus"]
