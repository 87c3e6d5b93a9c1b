"""ManagedProcess start-up outcomes, on real short-lived processes."""

from __future__ import annotations

import sys

from local_stack.processes import ManagedProcess


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
