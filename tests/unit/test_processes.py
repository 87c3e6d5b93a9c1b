"""ManagedProcess start-up outcomes, on real short-lived processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launcher import launch
from local_stack import pipeline, processes, server
from local_stack.processes import ManagedProcess, busy_ports_message, port_is_free


def test_wait_ready_reports_ready(tmp_path):
    process = ManagedProcess("sleeper", tmp_path)
    child = process.start(["sleep", "30"], env={"PATH": "/usr/bin:/bin"})
    try:
        # Ready once exec has replaced the forked interpreter (pid() checks the command line).
        is_ready = lambda: process.pid() is not None  # noqa: E731
        assert process.wait_ready(child, is_ready, timeout=10, poll_s=0.05) == "ready"
        assert process.pid() == child.pid
    finally:
        assert process.stop(timeout=5)
    assert not process.pid_file.exists()


def test_wait_ready_reports_a_child_that_died_and_forgets_its_pid(tmp_path):
    process = ManagedProcess("quitter", tmp_path)
    child = process.start([sys.executable, "-c", "print('bad flag'); raise SystemExit(3)"], env={})
    assert process.wait_ready(child, lambda: False, timeout=30, poll_s=0.05) == "exited"
    assert child.returncode == 3
    assert not process.pid_file.exists()
    assert "bad flag" in process.log_tail()


def test_wait_ready_times_out_and_stops_the_child(tmp_path):
    process = ManagedProcess("stuck", tmp_path)
    child = process.start(["sleep", "30"], env={"PATH": "/usr/bin:/bin"})
    assert process.wait_ready(child, lambda: False, timeout=0.5, poll_s=0.05) == "timeout"
    child.wait(timeout=10)  # stopped, not left running
    assert not process.pid_file.exists()


def test_busy_port_is_named_by_its_setting_with_the_fix(listener):
    assert not port_is_free(listener)
    message = busy_ports_message({"TRITON_HTTP_PORT": 1, "TRITON_GRPC_PORT": listener}, "x")
    assert f"TRITON_GRPC_PORT={listener}" in message
    assert "TRITON_HTTP_PORT" not in message  # port 1 is not listened on
    assert "export TRITON_GRPC_PORT=" in message and "make down" in message


def unused_port() -> int:
    """A port the kernel just handed out and nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_free_ports_give_no_message():
    port = unused_port()
    assert port_is_free(port)
    assert busy_ports_message({"TRITON_HTTP_PORT": port}, "x") is None


def test_server_start_refuses_a_taken_port_before_launching(listener, tmp_path, monkeypatch):
    monkeypatch.setenv("TRITON_HTTP_PORT", str(unused_port()))
    monkeypatch.setenv("TRITON_GRPC_PORT", str(unused_port()))
    monkeypatch.setenv("TRITON_METRICS_PORT", str(listener))
    with pytest.raises(server.ServerStartError, match=f"TRITON_METRICS_PORT={listener}"):
        server.start(tmp_path / "repository", tmp_path / "run", timeout=5)
    assert not (tmp_path / "run" / "pids" / "tritonserver.pid").exists()


def test_make_up_names_a_taken_port_without_a_traceback(listener, tmp_path, monkeypatch, capsys):
    """`make up` -> launcher's run("up"): the message and the fix, exit 1, no server started."""
    monkeypatch.setenv("TRITON_HTTP_PORT", str(listener))
    monkeypatch.setenv("STACK_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setitem(launch.COMMANDS, "up", pipeline.serve)  # the start step alone, no export
    assert launch.run("up") == 1
    err = capsys.readouterr().err
    assert (
        f"make up failed: cannot start tritonserver: port in use on 127.0.0.1: TRITON_HTTP_PORT={listener}"
        in err
    )
    assert "Traceback" not in err and "make down" in err
    assert not (tmp_path / "run" / "pids" / "tritonserver.pid").exists()


def test_make_up_names_a_failed_step(monkeypatch, capsys):
    def failing_export():
        subprocess.run([sys.executable, "-m", "exporter", "--no-such-flag"], check=True)

    monkeypatch.setitem(launch.COMMANDS, "up", failing_export)
    assert launch.run("up") == 1
    err = capsys.readouterr().err
    assert "make up failed: `python" in err and "-m exporter` failed (exit 2)" in err


def test_connections_left_by_a_closed_server_do_not_count_as_taken():
    """A killed server's half-closed connections (its client paused) don't block a restart."""
    with socket.socket() as server_socket:
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server_socket.bind(("127.0.0.1", 0))
        server_socket.listen()
        port = server_socket.getsockname()[1]
        paused_client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server_socket.accept()
    accepted.close()  # the server is gone; the client never reads its FIN: FIN_WAIT2 remains
    try:
        assert port_is_free(port)
        with socket.socket() as restarted:  # what the next server does, and it works
            restarted.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            restarted.bind(("127.0.0.1", port))
            restarted.listen()
            assert not port_is_free(port)
    finally:
        paused_client.close()


# A leader that starts a lingering "stub" (as tritonserver does), which holds a /dev/shm region
# named on its command line, then exits on SIGTERM without cleaning up (as a crash would).
LEADER_WITH_STUB = """
import signal, subprocess, sys, time
from pathlib import Path
region = sys.argv[1]
Path("/dev/shm", region).write_bytes(b"x")
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", region])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
time.sleep(60)
"""


def _region_holder(tmp_path, name: str):
    region = f"triton_test_shm_region_{name}"
    process = ManagedProcess(name, tmp_path)
    child = process.start([sys.executable, "-c", LEADER_WITH_STUB, region], env={})
    path = Path("/dev/shm", region)
    deadline = time.monotonic() + 10  # until the region exists and the stub runs
    while time.monotonic() < deadline and not (
        path.exists() and len(processes.group_members(child.pid)) == 2
    ):
        time.sleep(0.05)
    assert set(processes.stub_regions(child.pid)) == {region}
    return process, child, path


def test_stop_ends_lingering_stubs_and_unlinks_their_regions(tmp_path):
    process, child, region = _region_holder(tmp_path, f"stopped_{os.getpid()}")
    assert region.exists()
    assert process.stop(timeout=5)
    assert not region.exists()
    assert processes.group_members(child.pid) == []


def test_a_crashed_start_ends_its_stubs_and_unlinks_their_regions(tmp_path):
    process, child, region = _region_holder(tmp_path, f"crashed_{os.getpid()}")
    os.kill(child.pid, signal.SIGKILL)  # the leader dies on its own; the stub lingers
    assert process.wait_ready(child, lambda: False, timeout=10, poll_s=0.05) == "exited"
    assert not region.exists()
    assert processes.group_members(child.pid) == []
