"""The locked dependencies: `make lock` writes requirements/*.lock, `--check` proves them current.

One resolution (all.lock: `.[all]`, what `make venv` and CI install) and per-image subsets
(client, client-cuda, exporter, server) constrained to the same versions. Every line carries sha256 hashes,
installed with `pip install --require-hashes`. Target: CPython 3.11 on Linux x86-64 (glibc 2.35+,
which nvidia-pytriton's wheels need); torch is the CPU build from TORCH_FIND_LINKS (docs/dependencies.md).

    python requirements/lock.py           # re-resolve (needs uv: the `dev` extra has it)
    python requirements/lock.py --check   # offline and fast: CI runs it as tests/unit/test_lock.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK_DIR = ROOT / "requirements"
# lock name -> the extras it installs (the images pick theirs: client-cuda is the gpu profile's)
TARGETS = {
    "all": ["all"],
    "client": ["client"],
    "client-cuda": ["client", "cuda"],
    "exporter": ["exporter"],
    "server": ["server"],
}
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_36"  # Debian bookworm (glibc 2.36): this machine, CI, the images
MARKER_ENV = {
    "python_version": PYTHON_VERSION,
    "sys_platform": "linux",
    "platform_machine": "x86_64",
}
DIGEST_LINE = re.compile(r"^# pyproject-digest: (?P<digest>sha256:[0-9a-f]{64})$", re.MULTILINE)
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)", re.MULTILINE)


def lock_file(target: str) -> Path:
    return LOCK_DIR / f"{target}.lock"


def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def pyproject_digest() -> str:
    """sha256 of what the lock is made from: requires-python and every dependency list."""
    table = project()
    wanted = {
        "requires-python": table.get("requires-python"),
        "dependencies": table.get("dependencies", []),
        "optional-dependencies": table.get("optional-dependencies", {}),
    }
    return "sha256:" + hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def requirements(wanted: list[str]) -> list[Requirement]:
    """pyproject's requirements for some extras, self-references (`pkg[a,b]`) expanded."""
    table, name = project(), canonicalize_name(project()["name"])
    extras = table.get("optional-dependencies", {})
    todo, seen = list(wanted), set()
    found = [Requirement(r) for r in table.get("dependencies", [])]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for line in extras[current]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == name:
                todo += sorted(requirement.extras)
            else:
                found.append(requirement)
    return [r for r in found if r.marker is None or r.marker.evaluate(MARKER_ENV)]


def pins(text: str) -> dict[str, Version]:
    return {canonicalize_name(m["name"]): Version(m["version"]) for m in PIN.finditer(text)}


def problems(target: str) -> list[str]:
    """Why `target`'s lock does not match pyproject.toml (empty when it does)."""
    path = lock_file(target)
    if not path.is_file():
        return [f"{path.relative_to(ROOT)} is missing: run `make lock`"]
    text = path.read_text()
    found = DIGEST_LINE.search(text)
    if found is None or found["digest"] != pyproject_digest():
        return [f"{path.relative_to(ROOT)} was made from another pyproject.toml: run `make lock`"]
    locked, issues = pins(text), []
    for requirement in requirements(TARGETS[target]):
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            issues.append(f"{path.name}: {requirement} is not locked: run `make lock`")
        elif not requirement.specifier.contains(version, prereleases=True):
            issues.append(f"{path.name}: {requirement.name}=={version} breaks {requirement}")
    for block in re.split(r"\n(?=\S)", text):
        if PIN.match(block) and "--hash=sha256:" not in block:
            issues.append(f"{path.name}: {block.split()[0]} has no hash")
    return issues


def compile_lock(target: str, uv: str, find_links: str) -> None:
    """Resolve one target with uv into its lock file, headed by the pyproject digest."""
    extras = [part for extra in TARGETS[target] for part in ("--extra", extra)]
    constraint = [] if target == "all" else ["-c", str(lock_file("all"))]
    command = [
        uv, "pip", "compile", str(PYPROJECT), "--quiet", "--generate-hashes",
        "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
        "--custom-compile-command", "make lock", "-o", str(lock_file(target)),
        *extras, *constraint,
        "--find-links", find_links,
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT)
    path = lock_file(target)
    header = (
        f"# pyproject-digest: {pyproject_digest()}\n"
        f"# Target: CPython {PYTHON_VERSION}, Linux x86-64 (glibc 2.35+). torch is the CPU build\n"
        f"# (+cpu, from TORCH_FIND_LINKS); install: pip install --require-hashes -r requirements/{path.name}\n"
    )
    # uv names the constraint file by its absolute path: keep the lock free of this checkout's path
    text = path.read_text().replace(str(LOCK_DIR) + "/", "requirements/")
    path.write_text(header + text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, offline")
    args = parser.parse_args()
    if args.check:
        issues = [issue for target in TARGETS for issue in problems(target)]
        for issue in issues:
            print(f"lock: {issue}", file=sys.stderr)
        print("lock: up to date" if not issues else f"lock: {len(issues)} problem(s)")
        return 1 if issues else 0
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        print(
            "error: uv not found: .venv/bin/pip install uv (the `dev` extra has it)",
            file=sys.stderr,
        )
        return 2
    find_links = os.environ.get("TORCH_FIND_LINKS") or "/opt/wheels"
    if not find_links.startswith(("http://", "https://")) and not Path(find_links).is_dir():
        print(
            f"error: TORCH_FIND_LINKS={find_links} is not a folder: point it at a folder (or URL) "
            f"holding the torch CPU wheel, or the lock would take PyPI's CUDA build",
            file=sys.stderr,
        )
        return 2
    for target in TARGETS:  # `all` first: the others are constrained to its versions
        compile_lock(target, uv, find_links)
        print(f"wrote {lock_file(target).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
