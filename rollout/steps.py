"""Roll a new model version out on a live Triton, and back, without failing a request.

rollout: publish N+1 beside N -> check N+1 under a temporary name (parity with in-process
ORT, latency against N) -> serve [N, N+1] (new requests go to N+1, the latest; N finishes
what it holds) -> check N+1 under the real name -> wait until N drains -> serve [N+1] only
(Triton unloads N after its last request) -> keep at most --keep versions on disk.
A version that fails a check is never loaded under the model's name; N is left untouched.

rollback to an older P: serve [P, C] (P loads beside the current C, which stays the default)
-> check P -> serve [P] (traffic moves to P; Triton unloads C after its in-flight requests).
Back to a newer P (a second rollback): the rollout's path, P checked before it is served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rollout import repo
from rollout.repo import RolloutError
from rollout.server import LiveServer, ProbeResult


@dataclass
class RolloutOptions:
    """How careful a rollout is."""

    check: str = "parity"  # or "none"
    keep: int = 2
    max_slowdown: float = 3.0  # refuse when the new p50 exceeds this many times the old one
    slowdown_floor_ms: float = 2.0  # ...and the difference exceeds this (noise on tiny models)
    probe_requests: int = 20
    drain_settle_s: float = 1.0
    drain_timeout_s: float = 30.0


@dataclass
class Outcome:
    """What happened: the version served at the end, and the steps taken."""

    promoted: bool
    serving: int
    candidate: int | None = None
    reason: str | None = None  # why a candidate was refused
    steps: list[str] = field(default_factory=list)


class _Run:
    """Shared state of one rollout/rollback: the model, the server, a step log."""

    def __init__(self, repository: Path, name: str, server: LiveServer, say: Callable, options):
        self.repository, self.name, self.server, self.say = repository, name, server, say
        self.options: RolloutOptions = options
        self.folder = repo.model_dir(repository, name)
        self.history = repo.read_history(self.folder)
        self.filename = repo.model_filename(self.folder)
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)
        self.say(text)

    def serving(self) -> int:
        ready = self.server.ready_versions(self.name)
        if not ready:
            raise RolloutError(
                f"model {self.name!r} has no READY version on Triton at {self.server.url}; "
                f"load it first (explicit model control: POST v2/repository/models/"
                f"{self.name}/load, or restart the server with --load-model={self.name})"
            )
        serving = ready[-1]  # what requests without a version get
        if not self.file_of(serving).is_file():
            raise RolloutError(
                f"Triton at {self.server.url} serves version {serving} of {self.name!r}, but "
                f"{self.file_of(serving)} does not exist: is {self.repository} the repository "
                f"that server reads? (--repository / MODEL_REPOSITORY)"
            )
        return serving

    def serve(self, versions: list[int]) -> None:
        repo.serve_versions(self.folder, versions)
        self.server.load(self.name)
        self.step(f"serving versions {sorted(versions)} (config.pbtxt version_policy, reloaded)")

    def file_of(self, version: int) -> Path:
        return self.folder / str(version) / self.filename


def _slower(candidate: ProbeResult, current: ProbeResult, options: RolloutOptions) -> str | None:
    if options.max_slowdown <= 0:
        return None
    limit = max(current.p50_ms * options.max_slowdown, current.p50_ms + options.slowdown_floor_ms)
    if candidate.p50_ms > limit:
        return (
            f"latency: p50 {candidate.p50_ms:.2f} ms vs {current.p50_ms:.2f} ms for the serving "
            f"version (limit {limit:.2f} ms, --max-slowdown {options.max_slowdown})"
        )
    return None


def _check_candidate(run: _Run, version: int, current: int, options: RolloutOptions) -> str | None:
    """Serve the candidate under a temporary name and probe it; None when it passes."""
    check = repo.publish_check_model(run.repository, run.name, version)
    try:
        run.server.load(check)
        result = run.server.probe(check, None, run.file_of(version), options.probe_requests)
        if result.reason:
            return result.reason
        baseline = run.server.probe(run.name, current, run.file_of(current), options.probe_requests)
        run.step(
            f"checked version {version} as {check}: max abs diff {result.max_abs_diff:.2g} from "
            f"in-process ORT; p50 {result.p50_ms:.2f} ms vs {baseline.p50_ms:.2f} ms (version "
            f"{current}, {options.probe_requests} requests each, under whatever load is running)"
        )
        return _slower(result, baseline, options)
    except Exception as exc:  # noqa: BLE001 - any failure to serve it is a refusal with its reason
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
    finally:
        run.server.unload(check)
        repo.remove_model(run.repository, check)


def rollout(
    repository: Path,
    name: str,
    candidate: Path,
    external: list[str],
    server: LiveServer,
    options: RolloutOptions,
    say: Callable[[str], None] = print,
) -> Outcome:
    """Publish `candidate` as the next version and make it the served one, or refuse."""
    with repo.rollout_lock(repository, name):
        run = _Run(repository, name, server, say, options)
        current = run.serving()
        run.history["serving"] = run.history.get("serving") or current
        version = repo.next_version(run.folder, run.history)
        reason: str | None = "interrupted by an error or a signal (see above)"  # until a step says
        try:  # from here on, a failure removes the fresh (unused, locked) version number
            repo.publish_version(repository, name, version, candidate, external)
            run.step(f"published version {version} beside serving version {current} (not loaded)")
            problem = None
            if options.check == "parity":
                problem = _check_candidate(run, version, current, options)
            reason = problem or _switch(run, current, version, options)
        finally:
            if reason is not None:  # never served under its name: remove it, keep its number
                repo.remove_version(run.folder, version)
                run.history.setdefault("refused", []).append(version)
                repo.record(run.folder, run.history, {"action": "refused", "version": version,
                                                      "serving": current, "reason": reason})  # fmt: skip
        if reason is not None:
            run.step(f"refused version {version}: {reason}; version {current} still serves")
            return Outcome(False, current, version, reason, run.steps)
        run.history.update(serving=version, previous=current)
        # --keep 1 keeps only the new version: no rollback then, which the user chose.
        keep = {version} if options.keep == 1 else {version, current}
        removed = repo.prune(run.folder, options.keep, keep)
        if removed:
            run.step(f"removed old version folders {removed} (--keep {options.keep})")
        repo.record(run.folder, run.history, {"action": "rollout", "from": current,
                                              "to": version, "steps": run.steps})  # fmt: skip
        return Outcome(True, version, version, None, run.steps)


def _switch(run: _Run, current: int, version: int, options: RolloutOptions) -> str | None:
    """[current, version] -> check under the real name -> drain current -> [version]."""
    try:
        run.serve([current, version])
        if run.options.check == "parity":
            result = run.server.probe(run.name, version, run.file_of(version), requests=1)
            if result.reason:
                _restore(run, current)
                return f"after the switch: {result.reason}"
        drain = run.server.drain(run.name, current, options.drain_settle_s, options.drain_timeout_s)
        if drain["drained"]:
            run.step(f"version {current} drained in {drain['waited_s']} s (nothing pending)")
        else:
            run.step(
                f"version {current} still answered requests after {options.drain_timeout_s} s "
                f"(clients that ask for version {current} by number); retiring it anyway: "
                f"Triton finishes what it holds, later requests for it fail"
            )
        run.serve([version])
    except Exception as exc:  # noqa: BLE001 - back to the old version, then report why
        _restore(run, current)
        return f"during the switch: {type(exc).__name__}: {str(exc).strip()[:300]}"
    except BaseException:  # Ctrl-C / SIGTERM: the old version alone again before leaving
        _restore(run, current)
        raise
    run.step(_retired(run, current, options))
    return None


def _back_to_older(run: _Run, current: int, previous: int) -> str | None:
    """[previous, current] (current stays the default) -> check previous -> [previous]."""
    try:
        run.serve([previous, current])
        result = run.server.probe(run.name, previous, run.file_of(previous), requests=1)
        if result.reason:
            _restore(run, current)
            return result.reason
        run.step(f"checked version {previous}: max abs diff {result.max_abs_diff:.2g} from ORT")
        run.serve([previous])
    except Exception as exc:  # noqa: BLE001 - back to the current version, then report why
        _restore(run, current)
        return f"during the switch: {type(exc).__name__}: {str(exc).strip()[:300]}"
    except BaseException:
        _restore(run, current)
        raise
    run.step(_retired(run, current, run.options))
    return None


def _retired(run: _Run, version: int, options: RolloutOptions) -> str:
    try:
        waited = run.server.retired(run.name, version, options.drain_timeout_s)
    except Exception as exc:  # noqa: BLE001 - the switch is done; only the report is missing
        return f"version {version} retired (could not confirm the unload: {exc})"
    if waited is None:
        return f"version {version} still loaded after {options.drain_timeout_s} s (in-flight work)"
    return f"version {version} unloaded by Triton {waited} s after the switch"


def _restore(run: _Run, current: int) -> None:
    """Serve `current` alone again (after a failure past the point of no return)."""
    try:
        run.serve([current])
    except Exception as exc:  # noqa: BLE001 - say it; the operator must act
        run.step(f"could not restore version {current}: {exc}; reload {run.name!r} by hand")


def rollback(
    repository: Path,
    name: str,
    server: LiveServer,
    options: RolloutOptions,
    say: Callable[[str], None] = print,
) -> Outcome:
    """Serve the previous version again (the one served before the last rollout)."""
    with repo.rollout_lock(repository, name):
        run = _Run(repository, name, server, say, options)
        current = run.serving()
        previous = run.history.get("previous")
        if previous is None or previous == current:
            raise RolloutError(
                f"model {name!r}: no previous version recorded in {repo.history_path(run.folder)}"
                f" (serving {current}); roll a version out first"
            )
        if not run.file_of(previous).is_file():
            raise RolloutError(
                f"previous version {previous} of {name!r} is not on disk ({run.file_of(previous)}"
                f" missing); roll it out again with --from-onnx"
            )
        if previous > current:  # loaded beside, it would be the default: check it first
            reason = _check_candidate(run, previous, current, options)
            reason = reason or _switch(run, current, previous, options)
        else:
            reason = _back_to_older(run, current, previous)
        if reason is not None:
            repo.record(run.folder, run.history, {"action": "rollback refused",
                                                  "version": previous, "reason": reason})  # fmt: skip
            run.step(f"refused version {previous}: {reason}; version {current} still serves")
            return Outcome(False, current, previous, reason, run.steps)
        run.history.update(serving=previous, previous=current)
        repo.record(run.folder, run.history, {"action": "rollback", "from": current,
                                              "to": previous, "steps": run.steps})  # fmt: skip
        return Outcome(True, previous, previous, None, run.steps)
