"""The runner's wait for its workers survives Ctrl-C landing inside it.

On CPython 3.11/3.12 a KeyboardInterrupt raised inside Thread.join() marks a still-running
thread as stopped (threading.py's bpo-45274 branch releases the thread's own state lock), so
a second join() returns at once. The client's final shm sweep then raced a worker that was
still unregistering its regions (seen once in CI). The runner waits on the workers' own
`finished` events instead; these tests interrupt that wait with a real signal.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from client.load import wait_until_finished


class SlowCleanup(threading.Thread):
    """Stands for a worker: its cleanup takes `cleanup_s`, then it sets `finished`."""

    def __init__(self, cleanup_s: float):
        super().__init__(daemon=True)
        self.cleanup_s = cleanup_s
        self.cleaned = False
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            time.sleep(self.cleanup_s)
            self.cleaned = True
        finally:
            self.finished.set()


@pytest.fixture
def interrupt_after():
    """SIGALRM raising KeyboardInterrupt after `seconds`, as Ctrl-C would."""

    def on_alarm(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, on_alarm)
    yield lambda seconds: signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def test_interrupted_wait_then_waiting_again_sees_cleanup_finish(interrupt_after):
    workers = [SlowCleanup(1.0), SlowCleanup(1.5)]
    for worker in workers:
        worker.start()
    interrupt_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        wait_until_finished(workers, tick_s=0.2)
    assert not any(w.cleaned for w in workers)  # the interrupt came mid-cleanup
    wait_until_finished(workers)  # what the runner does after Ctrl-C, before its sweep
    assert all(w.cleaned for w in workers)


def test_on_tick_runs_while_waiting():
    workers = [SlowCleanup(0.5)]
    workers[0].start()
    ticks = []
    wait_until_finished(workers, on_tick=lambda: ticks.append(1), tick_s=0.05)
    assert workers[0].cleaned and len(ticks) >= 3
