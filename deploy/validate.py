"""Manifests checked offline: Kubernetes' own schemas (kubernetes-validate, strict) for every
version the chart claims, and the CRDs' openAPI schemas for the custom resources.

Strict means an unknown field is an error, as `kubectl apply --validate=strict` makes it. The CRD
schemas (deploy/crd-schemas/, vendored, sources in its README) leave unknown fields to the API
server's pruning; here they are closed the same way so a misspelt field fails.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

CRD_DIR = Path(__file__).resolve().parent / "crd-schemas"
# Chart.yaml's kubeVersion is >=1.26; kubernetes-validate carries schemas up to 1.37.
KUBE_VERSIONS = tuple(f"1.{minor}.0" for minor in range(26, 38))


@dataclass(frozen=True)
class Problem:
    """One manifest that failed one check."""

    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


def _closed(schema: dict) -> dict:
    """The schema with additionalProperties: false wherever it lists properties and allows more."""
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed_value(key, value) for key, value in schema.items()}
    if (
        "properties" in closed
        and "additionalProperties" not in closed
        and not closed.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    return closed


def _closed_value(key: str, value):
    if key == "properties":
        return {name: _closed(sub) for name, sub in value.items()}
    if key in ("items", "additionalProperties"):
        return _closed(value)
    if key in ("allOf", "anyOf", "oneOf"):
        return [_closed(sub) for sub in value]
    return value


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft202012Validator]:
    """{(apiVersion, kind): validator} for every served version of the vendored CRDs."""
    validators = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = _closed(version["schema"]["openAPIV3Schema"])
                schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: API server's
                key = (f"{group}/{version['name']}", kind)
                validators[key] = jsonschema.Draft202012Validator(schema)
    return validators


def name_of(resource: dict) -> str:
    """kind/name (apiVersion), for messages."""
    name = resource.get("metadata", {}).get("name", "?")
    return f"{resource.get('kind')}/{name} ({resource.get('apiVersion')})"


def check(resource: dict, kube_versions: tuple[str, ...] = KUBE_VERSIONS) -> list[Problem]:
    """Every problem of one manifest: custom resources against their CRD, the rest against Kubernetes."""
    key = (resource.get("apiVersion", ""), resource.get("kind", ""))
    if validator := crd_validators().get(key):
        return [
            Problem(name_of(resource), f"{'.'.join(map(str, e.absolute_path)) or '.'}: {e.message}")
            for e in validator.iter_errors(resource)
        ]
    problems = []
    for version in kube_versions:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(
                Problem(
                    name_of(resource),
                    f"Kubernetes {version} has no such API (removed, or a CRD with no schema in "
                    f"{CRD_DIR.name}/)",
                )
            )
        except kubernetes_validate.ValidationError as error:
            where = ".".join(map(str, error.path)) or "."
            problems.append(
                Problem(name_of(resource), f"Kubernetes {version}, {where}: {error.message}")
            )
    return problems


def check_documents(
    text: str, kube_versions: tuple[str, ...] = KUBE_VERSIONS
) -> tuple[list[dict], list[Problem]]:
    """The manifests of a multi-document YAML stream and every problem found in them."""
    resources = [doc for doc in yaml.safe_load_all(text) if doc]
    problems = [p for resource in resources for p in check(resource, kube_versions)]
    return resources, problems
