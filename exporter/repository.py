"""Writes models into a Triton model repository so the server never sees half a model.

Everything is built in a staging folder beside the repository (same filesystem, but
not inside it: Triton treats every sub-folder of the repository, hidden or not, as a
model). The finished model folder is then swapped in with one atomic rename, or an
atomic exchange (renameat2 RENAME_EXCHANGE) when a previous version is there.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RECORD_FILE = "export-record.json"  # beside config.pbtxt; Triton ignores it
_RENAME_EXCHANGE = 2  # from <linux/fs.h>
_AT_FDCWD = -100


def staging_root(repository: Path) -> Path:
    """Staging folder for `repository`: a hidden sibling on the same filesystem."""
    return repository.parent / f".{repository.name}.staging"


def staging_prefix(name: str) -> str:
    """Staging folder prefix: carries our pid so a later run can tell a dead writer's leftovers."""
    return f"{name}.pid{os.getpid()}."


def remove_stale_staging(repository: Path) -> None:
    """Remove staging leftovers of writers that died (kill -9, power loss): their pid is gone."""
    staging = staging_root(repository)
    if not staging.is_dir():
        return
    for entry in staging.iterdir():
        marker = entry.name.split(".pid", 1)
        if len(marker) != 2 or not marker[1].split(".", 1)[0].isdigit():
            continue
        pid = int(marker[1].split(".", 1)[0])
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False where the kernel or filesystem cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"cannot swap {a} and {b}: {os.strerror(err)}")


@contextmanager
def staged_model_dir(repository: Path, name: str) -> Iterator[Path]:
    """Yield an empty folder to build model `name` in; on success, publish it atomically.

    If the body raises, the staging folder is removed and the repository is untouched.
    """
    repository.mkdir(parents=True, exist_ok=True)
    staging = staging_root(repository)
    staging.mkdir(exist_ok=True)
    remove_stale_staging(repository)
    work = Path(tempfile.mkdtemp(prefix=staging_prefix(name), dir=staging))
    try:
        build = work / name
        build.mkdir()
        yield build
        _publish(build, repository / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _publish(build: Path, target: Path) -> None:
    if not target.exists():
        os.rename(build, target)  # atomic: the model appears whole or not at all
        return
    if not _exchange(build, target):
        # Fallback for filesystems without RENAME_EXCHANGE: a short window with no model.
        old = build.with_name(build.name + ".old")
        os.rename(target, old)
        os.rename(build, target)
        return
    # After the exchange, `build` holds the previous model; the caller's cleanup removes it.


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so readers see the old content or the new, never a partial one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_record(repository: Path, name: str) -> dict | None:
    """The export record of a published model, or None."""
    path = repository / name / RECORD_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
