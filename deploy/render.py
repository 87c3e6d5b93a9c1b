"""`make k8s`: render the chart for each shipped values file and validate every manifest.

build/k8s/<values>.yaml is what `helm install -f <values>` would apply (a lint first, with
--strict). Exit 1 names each failing manifest and field.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from deploy import validate
from deploy.helm_binary import helm

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHART = PROJECT_ROOT / "deploy" / "helm" / "triton-onnx-stack"
OUTPUT_DIR = PROJECT_ROOT / "build" / "k8s"
RELEASE = "triton"
NAMESPACE = "triton"


def values_files() -> list[Path]:
    """The shipped values: values.yaml (the defaults) and each values-*.yaml over them."""
    return sorted(CHART.glob("values*.yaml"))


def _helm(*args: str) -> str:
    done = subprocess.run([str(helm()), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"helm {' '.join(args[:2])} failed:\n{done.stderr.strip()}")
    return done.stdout


def render(values: Path, *extra: str) -> str:
    """`helm template` of the chart with one values file (the defaults need none)."""
    files = [] if values.name == "values.yaml" else ["--values", str(values)]
    return _helm(
        "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--kube-version", validate.KUBE_VERSIONS[0], *files, *extra,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.render", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    failed = False
    for values in values_files():
        files = [] if values.name == "values.yaml" else ["--values", str(values)]
        _helm("lint", "--strict", str(CHART), *files)
        text = render(values)
        target = args.output / values.name
        target.write_text(text)
        resources, problems = validate.check_documents(text)
        kinds = sorted({r["kind"] for r in resources})
        versions = f"{validate.KUBE_VERSIONS[0]}..{validate.KUBE_VERSIONS[-1]}"
        status = "FAILED" if problems else "ok"
        print(f"{status:6} {target.relative_to(PROJECT_ROOT)}: {len(resources)} manifests "
              f"({', '.join(kinds)}), Kubernetes {versions} + CRD schemas")  # fmt: skip
        for problem in problems:
            print(f"       {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
