"""One profiling run of one model: tagged load with Triton tracing and ORT profiling on."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from client.transport import Transport
from profiling import chrome, client_times, driver, ort_trace, plot, summary, triton_trace
from profiling.errors import ProfilingError
from profiling.http_api import call
from profiling.ort_switch import ort_profiling
from profiling.timeline import build, unmatched_runs
from profiling.trace_api import indexed_files, new_files, server_path_here, trace_file, tracing


@dataclass(frozen=True)
class Target:
    """Where Triton is: HTTP for control calls, the inference URL and protocol for the load."""

    http_url: str
    infer_url: str
    protocol: str
    shm: str = "none"
    load: str = "driver"  # or "client": python -m client with its --profile-export-file
    trace_dir_here: str | None = None  # the server's trace folder as seen from here (compose)


def _wait_for(what: str, found, timeout_s: float):
    """Poll `found()` until it returns something truthy; ProfilingError naming `what` after."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = found()
        if result:
            return result
        if time.monotonic() > deadline:
            raise ProfilingError(f"{what} did not appear within {timeout_s:.0f} s")
        time.sleep(0.2)


def served_by_our_backend(http_url: str, model: str) -> bool:
    """True when our Python-based onnxruntime backend serves `model` (it can write ORT profiles)."""
    config = call(http_url, f"/v2/models/{model}/config")
    return config.get("backend") == "onnxruntime" and config.get("runtime") == "model.py"


def profile_model(
    target: Target, model: str, requests: int, concurrency: int, out_dir: Path, ort: bool = True
) -> dict:
    """Run, merge and write timeline.json, summary.txt and request.png under out_dir/model."""
    if ort and not served_by_our_backend(target.http_url, model):
        print(
            f"{model}: served by NVIDIA's onnxruntime backend, which has no ONNX Runtime profiler "
            f"switch: the timeline has Triton's trace and the client's times, no ORT kernels "
            f"(TRITON_ONNXRUNTIME_BACKEND=python serves with ours, which adds them)",
            flush=True,
        )
        ort = False
    server_trace = trace_file(target.http_url, model)
    server_dir = os.path.dirname(server_trace)
    local_trace = server_path_here(server_trace, server_dir, target.trace_dir_here)
    if not os.path.isdir(os.path.dirname(local_trace)):
        raise ProfilingError(
            f"Triton writes traces to {server_dir}, which is not a folder here: pass "
            f"--trace-dir-here with where that folder is visible (compose: the traces volume)"
        )
    tag = f"{model}-{time.strftime('%H%M%S')}"
    ort_server_dir = os.path.join(server_dir, "ort", tag)
    ort_local_dir = server_path_here(ort_server_dir, server_dir, target.trace_dir_here)
    known = indexed_files(local_trace)
    out = out_dir / model
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if ort:
            stack.enter_context(ort_profiling(target.http_url, model, ort_server_dir))
        if target.load == "client":
            client_file = _client_load(target, model, requests, concurrency, raw)
        else:
            client_file = _driver_load(target, model, requests, concurrency, tag, raw)
    ids = {c.id for c in client_times.load(client_file)[0]}

    def complete_records():
        files = new_files(known, indexed_files(local_trace))
        records = triton_trace.read([Path(f) for f in files])
        mine = [r for r in records.values() if r.request_id in ids]
        return (files, mine) if len(mine) >= len(ids) and all(r.complete for r in mine) else None

    files, _ = _wait_for(f"Triton's trace of {len(ids)} requests", complete_records, 30)
    for name in files:
        shutil.copy(name, raw / f"triton_trace.{name.rsplit('.', 1)[1]}.json")
    profiles = []
    if ort:
        profiles = _wait_for(
            f"ORT profile in {ort_local_dir} (written by this repository's Python-based "
            f"onnxruntime backend; the NGC image's native backend has no profiler switch: "
            f"use --no-ort there)",
            lambda: sorted(Path(ort_local_dir).glob("*.json.clock.json")),
            60,
        )
        profiles = [Path(str(p).removesuffix(".clock.json")) for p in profiles]
        for profile in profiles:
            shutil.copy(profile, raw / profile.name)
            shutil.copy(f"{profile}.clock.json", raw / f"{profile.name}.clock.json")
    return merge(model, f"{target.protocol}, shm {target.shm}", client_file,
                 sorted(raw.glob("triton_trace.*.json")), ort_profiles(raw), out)  # fmt: skip


def _driver_load(target: Target, model: str, requests: int, concurrency: int, tag: str, raw: Path):
    """The built-in driver, traced after its warm-up; its client_requests.json."""
    with contextlib.ExitStack() as traced:
        clients, clock = driver.drive(
            target.http_url, Transport(target.protocol, target.infer_url), model, requests,
            concurrency, target.shm, run_tag=tag,
            on_warm=lambda: traced.enter_context(tracing(target.http_url, model)),
        )  # fmt: skip
    return client_times.save(raw / "client_requests.json", clients, clock)


def _client_load(target: Target, model: str, requests: int, concurrency: int, raw: Path) -> Path:
    """`python -m client ... --profile-export-file`, traced throughout; its export.

    Its warm-up requests are traced too but carry no request id: the merge leaves them out.
    """
    export = raw / "client_export.json"
    # The client as its own process (profiling meets it only through its CLI and export file).
    command = [
        sys.executable, "-m", "client", "--model", model, "--protocol", target.protocol,
        "--shm", target.shm, "--concurrency", str(concurrency), "--requests", str(requests),
        "--warmup", "2", "--url", target.infer_url, "--report", str(raw / "client_report"),
        "--metrics-port", "0", "--profile-export-file", str(export), "--quiet",
    ]  # fmt: skip
    with tracing(target.http_url, model):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " | ".join((done.stderr + done.stdout).strip().splitlines()[-6:])
        raise ProfilingError(f"the load client exited {done.returncode}: {tail}")
    return export


def ort_profiles(folder: Path) -> list[Path]:
    """The ORT profiles in `folder` (each has its .clock.json sidecar beside it)."""
    return sorted(p for p in folder.glob("ort_*.json") if not p.name.endswith(".clock.json"))


def merge(
    model: str,
    protocol: str,
    client_file: Path,
    trace_files: list[Path],
    ort_profiles: list[Path],
    out: Path,
) -> dict:
    """Merge already collected files into out/timeline.json, summary.txt and request.png."""
    clients, clock = client_times.load(client_file)
    records = triton_trace.requests_of(triton_trace.read(trace_files), model)
    if not records:
        raise ProfilingError(
            f"the trace files {[str(p) for p in trace_files]} hold no request of {model}"
        )
    runs = ort_trace.read_all(ort_profiles) if ort_profiles else []
    timelines, offset = build(clients, records, runs, clock)
    if runs:
        note = (f"ORT: {len(runs)} runs profiled, {len(runs) - unmatched_runs(timelines, runs)} inside "
                f"traced requests (the rest: warm-up)")  # fmt: skip
    else:
        note = "ORT: not profiled (compute infer is not split into node groups)"
    out.mkdir(parents=True, exist_ok=True)
    chrome.write(out / "timeline.json", timelines, model, offset)
    text = summary.text(model, protocol, timelines, offset, note)
    p50 = summary.nearest_rank(timelines, 50)
    try:
        plot.request_png(
            out / "request.png", p50,
            f"{model}: median request {p50.client.id} ({p50.latency_ns / 1e6:.2f} ms, {protocol})",
        )  # fmt: skip
    except ImportError:  # a GPU machine without matplotlib: the timeline and summary still count
        text += (
            "request.png skipped (no matplotlib here): run `python -m profiling merge` on raw/\n"
        )
    (out / "summary.txt").write_text(text)
    return {
        "model": model,
        "text": text,
        "check": summary.check(timelines),
        "requests": len(timelines),
    }
