"""The load loop: N workers, each with its own connection and shared-memory regions."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from client import server_stats
from client.errors import explain
from client.model_info import ModelInfo
from client.recovery import after_failure, reconnect, release_wait_s
from client.schedule import LoadProfile, Schedule
from client.shm import WorkerRegions, region_prefix, sweep_process_regions
from client.transport import Transport
from client.verify import Reference

compare = Reference.compare


@dataclass
class WorkerStats:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    verified: int = 0
    max_abs_diff: float = 0.0
    cleanup_problems: list[str] = field(default_factory=list)
    server_lost: bool = False  # unreachable or restarted during the run
    # (second of the run, model version) -> responses: shows a rollout's switch-over point
    versions: Counter = field(default_factory=Counter)
    # One (request index, send ns, receive ns, ok) per measured request, wall clock
    # (time.time_ns) so they line up with server traces and other machines' logs.
    records: list[tuple[int, int, int, bool]] = field(default_factory=list)


def error_kind(exc: BaseException) -> str:
    """A short label for an error, used for counts and metrics."""
    status = getattr(exc, "status", None)
    code = status() if callable(status) else None
    if code:
        return str(code).replace("StatusCode.", "").lower()
    return type(exc).__name__


class Worker(threading.Thread):
    """One closed-loop sender."""

    def __init__(
        self, index, profile, transport, model, schedule, barrier, reference, metrics, sets=None
    ):
        super().__init__(name=f"load-worker-{index}", daemon=True)
        # [(inputs, expected outputs or None)] sent round-robin; None: random per worker.
        self.input_sets = sets
        self.index, self.profile, self.transport, self.model = index, profile, transport, model
        self.schedule, self.barrier, self.reference, self.metrics = (
            schedule,
            barrier,
            reference,
            metrics,
        )
        self.stats = WorkerStats()
        self.fatal: BaseException | None = None
        # Set as the very last thing the worker does: the runner waits on this, not on
        # join()/is_alive(). On CPython 3.11/3.12 a KeyboardInterrupt that lands inside
        # Thread.join() releases the *running* thread's state lock (threading.py's
        # bpo-45274 branch) and marks it stopped, so the next join() returned while the
        # worker was still unregistering its regions and the final sweep raced it.
        self.finished = threading.Event()

    def run(self) -> None:
        client = None
        regions = None
        try:
            client = self.transport.connect(self.profile.timeout_s)
            sets = self.input_sets or [
                (self.model.make_inputs(self.profile.batch_size, seed=self.index), None)
            ]
            if self.profile.shm != "none":  # one set (the runner checks): written once
                regions = WorkerRegions(self.profile.shm, client, region_prefix(self.index))
                regions.prepare(self.model, self.profile.batch_size, sets[0][0])
            requests = [self._request(inputs, regions) for inputs, _ in sets]
            for _ in range(self.profile.warmup_per_worker):
                self._infer(client, requests[0])
            self.barrier.wait()
            client = self._loop(client, requests, sets, regions)
        except threading.BrokenBarrierError:
            pass  # another worker failed before the run began; it reports why
        except BaseException as exc:  # noqa: BLE001 - reported by the runner
            self.fatal = exc
            self.barrier.abort()
            self.schedule.stop.set()
        finally:
            try:
                if regions is not None:
                    self.stats.cleanup_problems += regions.close(release_wait_s(self.stats.errors))
                if client is not None:
                    client.close()
                self.transport.end_thread()
            finally:
                self.finished.set()

    def _request(self, inputs, regions):
        batch, batched = self.profile.batch_size, self.model.batched
        infer_inputs, outputs = [], []
        for tensor in self.model.inputs:
            shape = tensor.shape(batch, batched)
            if regions is None:
                infer_inputs.append(
                    self.transport.infer_input(
                        tensor.name, shape, tensor.datatype, inputs[tensor.name]
                    )
                )
            else:
                infer_input = self.transport.infer_input(tensor.name, shape, tensor.datatype, None)
                region = regions.inputs[tensor.name]
                infer_input.set_shared_memory(region.name, region.byte_size)
                infer_inputs.append(infer_input)
        for tensor in self.model.outputs:
            output = self.transport.requested_output(tensor.name)
            if regions is not None:
                region = regions.outputs[tensor.name]
                output.set_shared_memory(region.name, region.byte_size)
            outputs.append(output)
        return infer_inputs, outputs

    def _infer(self, client, request):
        infer_inputs, outputs = request
        kwargs = {"model_version": self.model.version} if self.model.version else {}
        if self.transport.protocol == "grpc":
            kwargs["client_timeout"] = self.profile.timeout_s
        return client.infer(self.model.name, infer_inputs, outputs=outputs, **kwargs)

    def _loop(self, client, requests, sets, regions):
        """Send until the schedule ends; returns the client in use (it may be replaced)."""
        metrics = self.metrics.bind(self.model.name, self.transport.protocol, self.profile.shm)
        kwargs = {}
        if self.model.version:
            kwargs["model_version"] = self.model.version
        if self.transport.protocol == "grpc":
            kwargs["client_timeout"] = self.profile.timeout_s
        name, latencies, records = self.model.name, self.stats.latencies_s, self.stats.records
        clock, wall_ns, next_ticket = time.perf_counter, time.time_ns, self.schedule.next
        prefix = self.profile.request_id_prefix
        while (ticket := next_ticket()) is not None:
            index, send_at = ticket
            delay = send_at - clock()
            if delay > 0:
                time.sleep(delay)
            entry = index % len(requests)
            infer_inputs, kwargs["outputs"] = requests[entry]
            metrics.started()
            kwargs["request_id"] = f"{prefix}{index}"
            sent_ns = wall_ns()
            began = clock()
            try:
                result = client.infer(name, infer_inputs, **kwargs)
            except Exception as exc:  # noqa: BLE001 - counted by kind, the run goes on
                records.append((index, sent_ns, wall_ns(), False))
                kind = error_kind(exc)
                self.stats.errors[kind] += 1
                self.stats.error_examples.setdefault(kind, explain(exc)[:600])
                metrics.failed(kind)
                if after_failure(exc, regions):
                    self.stats.server_lost = True
                    client = reconnect(self.transport, client, regions, self.profile.timeout_s)
                continue
            finally:
                metrics.finished()
            latency = clock() - began
            received_ns = wall_ns()
            version = self.transport.response_version(result)
            self.stats.versions[(int(began - self.schedule.started), version)] += 1
            inputs, expected = sets[entry]
            verify = self.profile.verify_every and index % self.profile.verify_every == 0
            checked = (expected is None or self._verify(result, expected, regions, entry)) and (
                not verify or self._verify(result, self.reference(inputs, version), regions)
            )
            if not checked:
                metrics.failed("mismatch")  # a wrong answer is a failure, not ok
                records.append((index, sent_ns, received_ns, False))
                continue
            latencies.append(latency)
            records.append((index, sent_ns, received_ns, True))
            metrics.observe(latency)
        return client

    def _verify(self, result, expected, regions, entry=None) -> bool:
        """Compare outputs with expected ones (the reference's, or validation_data's for
        input entry `entry`); False (counted once) on any mismatch."""
        matched = True
        for tensor in self.model.outputs:
            if tensor.name not in expected:
                continue  # validation_data may check some outputs only
            shape = tensor.shape(self.profile.batch_size, self.model.batched)
            if regions is None:
                actual = result.as_numpy(tensor.name)
            else:
                actual = regions.read_output(tensor.name, tensor.np_dtype, shape)
            diff, ok = compare(actual, expected[tensor.name])
            self.stats.max_abs_diff = max(self.stats.max_abs_diff, diff)
            if not ok:
                matched = False
                against = "reference" if entry is None else f"validation_data[{entry}]"
                self.stats.error_examples.setdefault(
                    "mismatch",
                    f"output {tensor.name!r}: max abs diff {diff:.3g} vs {against} "
                    f"(got {_preview(actual)}, expected {_preview(expected[tensor.name])})",
                )
        self.stats.verified += 1
        if not matched:
            self.stats.errors["mismatch"] += 1
        return matched


def _preview(array: np.ndarray) -> str:
    flat = np.asarray(array).ravel()
    text = ", ".join(map(str, flat[:4].tolist())) + (", ..." if flat.size > 4 else "")
    return f"[{text}] shape {list(np.shape(array))}"


@dataclass
class LoadResult:
    """Everything one run measured, before formatting."""

    profile: LoadProfile
    wall_s: float
    workers: list[WorkerStats]
    server_before: dict
    server_after: dict
    windows: list = field(default_factory=list)  # measurement windows, when a controller cut them
    stable: bool | None = None  # None: no stability check was asked for
    measurement: object = None  # client.stability.MeasurementSettings of a windowed run

    @property
    def records(self) -> list[tuple[int, int, int, bool]]:
        """Every measured request of every worker, in send order."""
        return sorted(r for w in self.workers for r in w.records)

    @property
    def latencies_s(self) -> np.ndarray:
        return np.array([x for w in self.workers for x in w.latencies_s])

    @property
    def errors(self) -> Counter:
        total = Counter()
        for w in self.workers:
            total.update(w.errors)
        return total


def run_load(
    profile: LoadProfile,
    transport: Transport,
    model: ModelInfo,
    reference,
    metrics,
    progress=None,
    controller=None,
    input_sets=None,
) -> LoadResult:
    """Drive the model as the profile says; raises the first worker's fatal error.

    A `controller` (client.stability.WindowController) cuts measurement windows while the
    load runs and ends it once they are stable or out of trials.
    """
    schedule = Schedule(profile)
    snapshot: dict = {}

    def server_statistics() -> dict:
        # A client of its own: tritonclient's HTTP client must stay on the thread that made it.
        client = transport.connect(profile.timeout_s)
        try:
            return server_stats.read_settled(transport, client, model)
        finally:
            client.close()

    def window_opens() -> None:  # runs once, in the last worker to get warm
        snapshot["before"] = server_statistics()
        schedule.begin()

    barrier = threading.Barrier(profile.concurrency, action=window_opens)
    workers = [
        Worker(i, profile, transport, model, schedule, barrier, reference, metrics, input_sets)
        for i in range(profile.concurrency)
    ]
    try:
        for worker in workers:
            worker.start()

        def on_tick() -> None:
            if progress:
                progress(_answered(workers))
            if controller and schedule.started and controller.tick(workers, schedule.started):
                schedule.stop.set()

        wait_until_finished(workers, on_tick=on_tick, tick_s=0.05 if controller else 0.2)
    except KeyboardInterrupt as interrupt:
        schedule.stop.set()
        barrier.abort()
        wait_until_finished(workers)
        # The caller reports these: an interrupted run has no summary to carry them.
        interrupt.cleanup_problems = _worker_problems(workers) + _sweep(profile, transport)
        raise
    finally:
        wall = time.perf_counter() - schedule.started if schedule.started else 0.0
    swept = _sweep(profile, transport)
    fatal = next((w.fatal for w in workers if w.fatal is not None), None)
    if fatal is not None:
        fatal.cleanup_problems = _worker_problems(workers) + swept
        raise fatal
    if swept:
        workers[0].stats.cleanup_problems += swept
    before = snapshot.get("before", {})
    try:
        after = server_statistics()
        if any(w.stats.server_lost for w in workers):
            raise ConnectionError("the server was unreachable or restarted during the run")
    except Exception as exc:  # noqa: BLE001 - server gone: still report what the client counted
        before = after = {}  # no server window rather than a wrong one (counters restart)
        workers[0].stats.cleanup_problems.append(
            f"server statistics not comparable for this run ({explain(exc)})"
        )
    result = LoadResult(profile, wall, [w.stats for w in workers], before, after)
    if controller:
        result.windows, result.stable = controller.windows, controller.stable
        result.measurement = controller.settings
        if before or after:  # the server's view of the measured windows, not the whole run
            result.server_before, result.server_after = controller.measured_statistics()
    return result


def wait_until_finished(workers, on_tick=None, tick_s: float = 0.2) -> None:
    """Block until every worker has set `finished` (safe to interrupt and call again)."""
    while not all(w.finished.is_set() for w in workers):
        # One wait per tick (not one per worker): the window controller ticks on time.
        waiting = next((w for w in workers if not w.finished.is_set()), None)
        if waiting is not None:
            waiting.finished.wait(timeout=tick_s)
        if on_tick:
            on_tick()


def _answered(workers: list[Worker]) -> int:
    return sum(len(w.stats.latencies_s) + sum(w.stats.errors.values()) for w in workers)


def _worker_problems(workers: list[Worker]) -> list[str]:
    return [p for w in workers for p in w.stats.cleanup_problems]


def _sweep(profile: LoadProfile, transport: Transport) -> list[str]:
    """Remove whatever of this process a worker left (should be nothing), saying what it was."""
    if profile.shm != "system":
        return []
    client = transport.connect(profile.timeout_s)
    try:
        removed = sweep_process_regions(client, transport.system_shm_names(client))
    except Exception as exc:  # noqa: BLE001 - the server may be gone; reported, not raised
        return [f"final shm sweep failed: {exc}"]
    finally:
        client.close()
    return [f"left by a worker, removed by the final sweep: {name}" for name in removed]
