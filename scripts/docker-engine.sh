#!/usr/bin/env bash
# Start or stop a Docker engine of our own when none answers (CI, fresh machines run as root).
#   scripts/docker-engine.sh start   # installs Debian's docker.io if needed; no-op if `docker info` works
#   scripts/docker-engine.sh stop    # stops only the engine this script started (by PID)
# The data root survives between runs (layer cache), the exec root and socket are ours alone.
set -euo pipefail
state=${TOS_DOCKER_STATE:-/var/tmp/tos-docker}
pidfile=$state/dockerd.pid
# The default socket, so `docker` and compose need no DOCKER_HOST.
socket=${TOS_DOCKER_SOCKET:-/var/run/docker.sock}

start() {
  if docker info >/dev/null 2>&1; then echo "docker engine: already answering"; return 0; fi
  if [ -S "$socket" ] && DOCKER_HOST=unix://$socket docker info >/dev/null 2>&1; then
    echo "docker engine: ours is running on $socket"; return 0
  fi
  if ! command -v dockerd >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "no Docker engine and not root: install Docker Engine" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io debootstrap >/dev/null
  fi
  # A dockerd killed without its shutdown (a stopped session) leaves its pid file: it would refuse to start.
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
  mkdir -p "$state/data" "$state/exec"
  # --iptables stays on: containers reach PyPI/Debian through the bridge's NAT.
  nohup dockerd --data-root "$state/data" --exec-root "$state/exec" -H "unix://$socket" \
    --pidfile "$pidfile" >"$state/dockerd.log" 2>&1 &
  for _ in $(seq 60); do
    if DOCKER_HOST=unix://$socket docker info >/dev/null 2>&1; then
      echo "docker engine: started (log $state/dockerd.log)"
      return 0
    fi
    sleep 1
  done
  echo "dockerd did not answer within 60 s; its log:" >&2; tail -n 30 "$state/dockerd.log" >&2; exit 1
}

stop() {
  [ -f "$pidfile" ] || { echo "docker engine: none of ours running"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  rm -f "$pidfile"
  echo "docker engine: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
