"""The model folder's side of a rollout: version folders, the version policy, the history file.

A new version is built in the staging folder and renamed into the model folder in one step,
so it is whole or absent. In explicit model control Triton sees it only when it is loaded.
Version folders that stay are never touched: Triton then keeps their loaded instances when
the version policy changes (measured on Triton 2.51: same stub processes before and after).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import stack_settings
from exporter.model_config import parse_pbtxt, set_version_policy, to_pbtxt
from exporter.repository import (
    remove_stale_staging,
    staged_model_dir,
    staging_prefix,
    staging_root,
    write_atomic,
)

HISTORY_SUFFIX = ".rollout.json"  # <repository>/<model>.rollout.json
CHECK_SUFFIX = "__rollout_check"


class RolloutError(stack_settings.StackError):
    """A rollout or rollback that cannot start or must stop; the message says why and the fix."""


def model_dir(repository: Path, name: str) -> Path:
    """The model's folder, which must exist with a config.pbtxt."""
    folder = repository / name
    if not (folder / "config.pbtxt").is_file():
        known = []
        if repository.is_dir():
            known = sorted(p.name for p in repository.iterdir() if (p / "config.pbtxt").is_file())
        raise RolloutError(
            f"model {name!r} has no config.pbtxt under {repository}; models there: "
            f"{known or 'none'}. Publish it first (`python -m exporter` or `exporter add`), "
            f"or pass --repository"
        )
    return folder


def versions_on_disk(folder: Path) -> list[int]:
    """Version folders of a model, ascending."""
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def history_path(folder: Path) -> Path:
    """Where a model's rollout history lives: a file beside its folder, not inside it.

    Triton dates every version by max(mtime, ctime) over the version folder AND every file
    beside config.pbtxt: a history file written inside the model folder makes the next load
    reload the serving version (seen on 2.51: two instances started instead of one). Files
    at the repository's top level are not models to Triton, so they change nothing.
    """
    return folder.parent / (folder.name + HISTORY_SUFFIX)


def read_history(folder: Path) -> dict:
    """<model>.rollout.json: {"serving", "previous", "refused": [...], "history": [...]}."""
    try:
        return json.loads(history_path(folder).read_text())
    except FileNotFoundError:
        return {"serving": None, "previous": None, "refused": [], "history": []}
    except json.JSONDecodeError as exc:
        raise RolloutError(
            f"{history_path(folder)} is not valid JSON ({exc}); fix or remove it "
            f"(it only records which version was served before)"
        ) from exc


def record(folder: Path, history: dict, event: dict) -> None:
    """Append one event (with a UTC time) and write the history file atomically."""
    event = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} | event
    history.setdefault("history", []).append(event)
    write_atomic(history_path(folder), (json.dumps(history, indent=2) + "\n").encode())


def next_version(folder: Path, history: dict) -> int:
    """One past every version ever used here: a refused number is never reused."""
    used = versions_on_disk(folder) + list(history.get("refused", []))
    return max(used, default=0) + 1


def serve_versions(folder: Path, versions: list[int]) -> None:
    """Rewrite config.pbtxt so the version policy is `specific: versions` (atomic)."""
    config = parse_pbtxt((folder / "config.pbtxt").read_text())
    config.ClearField("version_policy")
    set_version_policy(config, "specific:" + ",".join(str(v) for v in sorted(versions)))
    write_atomic(folder / "config.pbtxt", to_pbtxt(config).encode())


def model_filename(folder: Path) -> str:
    """The file name every version of this model uses."""
    config = parse_pbtxt((folder / "config.pbtxt").read_text())
    return config.default_model_filename or "model.onnx"


def publish_version(
    repository: Path, name: str, version: int, source: Path, external: list[str]
) -> Path:
    """Place `source` (and its external data files) as version `version`, in one rename."""
    folder = repository / name
    filename = model_filename(folder)
    staging = staging_root(repository)
    staging.mkdir(exist_ok=True)
    remove_stale_staging(repository)
    work = Path(tempfile.mkdtemp(prefix=staging_prefix(f"{name}-v{version}"), dir=staging))
    try:
        build = work / str(version)
        build.mkdir()
        _link_or_copy(source, build / filename)
        for location in external:
            (build / location).parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(source.parent / location, build / location)
        target = folder / str(version)
        if target.exists():
            raise RolloutError(f"{target} already exists; pick another version")
        os.rename(build, target)  # atomic: the version appears whole or not at all
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def publish_check_model(repository: Path, name: str, version: int) -> str:
    """`<name>__rollout_check`: version `version` alone under its own name, for the check."""
    check = name + CHECK_SUFFIX
    config = parse_pbtxt((repository / name / "config.pbtxt").read_text())
    config.name = check
    config.ClearField("version_policy")
    with staged_model_dir(repository, check) as build:
        shutil.copytree(repository / name / str(version), build / "1", copy_function=_link_or_copy)
        write_atomic(build / "config.pbtxt", to_pbtxt(config).encode())
    return check


def remove_version(folder: Path, version: int) -> None:
    """Delete one version folder (never a loaded one: callers unload first)."""
    shutil.rmtree(folder / str(version), ignore_errors=True)


def remove_model(repository: Path, name: str) -> None:
    """Delete a whole (unloaded) model folder, e.g. the temporary check model."""
    shutil.rmtree(repository / name, ignore_errors=True)


def prune(folder: Path, keep: int, protect: set[int]) -> list[int]:
    """Delete the oldest version folders beyond `keep`, never one in `protect`."""
    versions = versions_on_disk(folder)
    spare = [v for v in versions if v not in protect]
    excess = max(0, len(versions) - max(keep, len(protect)))
    removed = spare[:excess]
    for version in removed:
        remove_version(folder, version)
    return removed


@contextmanager
def rollout_lock(repository: Path, name: str) -> Iterator[None]:
    """One rollout or rollback per model at a time (a lock file beside the repository)."""
    staging = staging_root(repository)
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / f"{name}.rollout.lock"
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RolloutError(
                f"another rollout or rollback of {name!r} is running (lock {path}); "
                f"wait for it to finish"
            ) from None
        yield


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)  # staging sits on the repository's filesystem
    except OSError:
        shutil.copy2(source, target)
