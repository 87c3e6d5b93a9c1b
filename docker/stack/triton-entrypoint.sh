#!/usr/bin/env bash
# Compose's triton start: `triton-entrypoint.sh tritonserver <flags>` execs tritonserver with the
# restricted-API flags appended. Triton takes the control key only as a flag, so this reads it
# from the file the keygen service wrote (the control-key volume, readable by the stack's
# secrets group only) instead of compose interpolating it from the environment: plain
# `docker compose up` needs nothing exported, and `docker compose config` never shows the key.
# Bind-mounted from the repository, so the NGC image runs it unchanged (no custom image).
set -euo pipefail

key_file=${CONTROL_KEY_FILE:-/control-key/control.key}
apis=${TRITON_RESTRICTED_APIS:-model-repository,shared-memory,trace,logging}
header=${CONTROL_KEY_HEADER:-tos-control-key}

if [[ $# -eq 0 ]]; then
  echo "triton-entrypoint.sh: no command given (expected: tritonserver <flags>)" >&2
  exit 2
fi

if [[ $apis == none ]]; then
  echo "triton-entrypoint: TRITON_RESTRICTED_APIS=none: every API is open to whoever reaches the ports (docs/security.md)" >&2
  exec "$@"
fi

if [[ ! -r $key_file ]]; then
  echo "triton-entrypoint: cannot read the control key $key_file (CONTROL_KEY_FILE): the keygen" \
    "service writes it on \`docker compose up\`; see \`docker compose logs keygen\`, and that this" \
    "service mounts the control-key volume and has the secrets group (group_add)" >&2
  exit 2
fi
key=$(<"$key_file")
key=${key//[[:space:]]/}
if [[ ! $key =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
  echo "triton-entrypoint: $key_file does not hold a usable control key (16+ of A-Z a-z 0-9 _ -):" \
    "rotate it: docker compose run --rm keygen rotate" >&2
  exit 2
fi

restriction="$apis:$header=$key"
exec "$@" "--http-restricted-api=$restriction" "--grpc-restricted-protocol=$restriction"
