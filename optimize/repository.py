"""Candidate models as siblings of the served model: written, loaded, unloaded, removed.

A candidate `<model>__opt_<hash>` gets its own config.pbtxt and a version folder whose
files are relative symlinks to the served model's latest version, so the serving model is
never touched. Each candidate folder carries an owner file (pid, host): a later run removes
what a killed run (kill -9) left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import time
from pathlib import Path

import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from stack_settings.control_key import control_headers, refusal_fix

CANDIDATE_MARK = "__opt_"
OWNER_FILE = ".optimize-owner.json"
UNLOAD_TIMEOUT_S = 120.0


class RepositoryError(RuntimeError):
    """The model or its repository cannot be used (names the path and the fix)."""


def latest_version_dir(repository: Path, model: str) -> Path:
    """The served model's highest numeric version folder."""
    folder = repository / model
    if not (folder / "config.pbtxt").is_file():
        raise RepositoryError(
            f"model {model!r}: no {folder / 'config.pbtxt'}; pass --model-repository "
            f"(the folder the server reads) or export the model first"
        )
    versions = [p for p in folder.iterdir() if p.name.isdigit() and p.is_dir()]
    if not versions:
        raise RepositoryError(f"model {model!r}: no version folder (1/, 2/, ...) in {folder}")
    return max(versions, key=lambda p: int(p.name))


def write_candidate(repository: Path, model: str, name: str, config_text: str) -> Path:
    """The candidate folder: config, owner file, version 1 linking the served files."""
    source = latest_version_dir(repository, model)
    folder = repository / name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "1").mkdir(parents=True)
    owner = {"pid": os.getpid(), "host": platform.node(), "model": model}
    (folder / OWNER_FILE).write_text(json.dumps(owner))
    for entry in source.iterdir():  # relative links: the same in a container's view
        (folder / "1" / entry.name).symlink_to(os.path.relpath(entry, folder / "1"))
    (folder / "config.pbtxt").write_text(config_text)
    return folder


def _owner_alive(owner: dict) -> bool:
    if owner.get("host") != platform.node():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError):
        return True
    return True


class ServerControl:
    """The v2 repository API (load, unload, index), always with the control-API key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpclient.InferenceServerClient(
            url, connection_timeout=600.0, network_timeout=600.0
        )

    def close(self) -> None:
        self.client.close()

    def check_live(self) -> None:
        """Fail early, naming the address, when no server answers there."""
        try:
            live = self.client.is_server_live()
        except Exception as exc:  # noqa: BLE001 - refused, DNS, timeout...
            raise RepositoryError(
                f"cannot reach Triton at {self.url} ({exc}); start it with `make up` or pass --url"
            ) from exc
        if not live:
            raise RepositoryError(f"Triton at {self.url} is not live; see its log")
        self.states()  # the repository API needs the control key: refused here, before any work

    def served_config(self, model: str) -> dict:
        """The config the server serves for `model` (after the backend's auto-complete)."""
        try:
            if not self.client.is_model_ready(model):
                raise RepositoryError(
                    f"model {model!r} is not ready on {self.url}; load it first "
                    f"(models there: {', '.join(self.states()) or 'none'})"
                )
            return self.client.get_model_config(model)
        except InferenceServerException as exc:
            raise RepositoryError(f"model {model!r} on {self.url}: {exc}") from exc

    def states(self) -> dict[str, str]:
        """{name: state} from the repository index."""
        try:
            index = self.client.get_model_repository_index(headers=control_headers())
        except InferenceServerException as exc:
            _raise_if_refused(exc)
            raise
        return {m["name"]: m.get("state", "") for m in index}

    def load(self, name: str) -> None:
        """Load a model; raises InferenceServerException with Triton's reason."""
        try:
            self.client.load_model(name, headers=control_headers())
        except InferenceServerException as exc:
            _raise_if_refused(exc)
            raise

    def unload(self, name: str) -> None:
        """Unload a model and wait until the server has let it go."""
        # A candidate whose load failed was never loaded: nothing to unload or wait for.
        with contextlib.suppress(InferenceServerException):
            self.client.unload_model(name, headers=control_headers())
        deadline = time.monotonic() + UNLOAD_TIMEOUT_S
        while self.states().get(name) in ("READY", "UNLOADING", "LOADING"):
            if time.monotonic() > deadline:
                raise RepositoryError(
                    f"candidate {name!r} still unloading after {UNLOAD_TIMEOUT_S:.0f}s"
                )
            time.sleep(0.2)


def _raise_if_refused(exc: InferenceServerException) -> None:
    """The control key's fix when Triton refused the call for want of it (not a model problem)."""
    fix = refusal_fix(str(exc))
    if fix:
        raise RepositoryError(fix) from exc


def remove_candidate(control: ServerControl, repository: Path, name: str) -> None:
    """Unload and delete one candidate (each step tolerates the other having happened)."""
    try:
        control.unload(name)
    finally:
        shutil.rmtree(repository / name, ignore_errors=True)


def sweep_stale(control: ServerControl, repository: Path, model: str) -> list[str]:
    """Remove candidates of `model` whose run died (owner process gone); returns their names."""
    removed = []
    for folder in sorted(repository.glob(f"{model}{CANDIDATE_MARK}*")):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not written by us: leave it alone
        if not _owner_alive(owner):
            remove_candidate(control, repository, folder.name)
            removed.append(folder.name)
    return removed
