"""The Helm chart, rendered by the real helm and checked offline (no cluster can run here).

One definition each: Triton's flags are triton_args(), the rules are monitoring/prometheus/rules,
the dashboard is monitoring/grafana/dashboards; these tests render the chart and compare.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

import stack_settings
from deploy import render, validate
from deploy.helm_binary import HelmError, helm
from local_stack.triton_command import CONTAINER_PORTS, triton_args

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "monitoring" / "prometheus" / "rules"
DASHBOARDS_DIR = ROOT / "monitoring" / "grafana" / "dashboards"
VALUES = {path.name: path for path in render.values_files()}
KEY_REFERENCE = "$(TRITON_CONTROL_KEY)"


@pytest.fixture(scope="module")
def helm_binary() -> Path:
    try:
        return helm()
    except HelmError as error:
        pytest.skip(f"no helm: {error}")


@pytest.fixture(autouse=True)
def settings_from_env_file_only(monkeypatch):
    """Compare against .env itself: other tests' fixtures export their own ports."""
    for name in stack_settings.parse_env_file(ROOT / ".env"):
        monkeypatch.delenv(name, raising=False)


def size_bytes(size: str) -> int:
    """Docker's 2g / 2gb and Kubernetes' 2Gi (both binary units) in bytes."""
    match = re.fullmatch(r"(\d+)\s*([kmg]?)(i?b?)", size.strip().lower())
    assert match, f"unknown size {size!r}"
    return int(match[1]) * 1024 ** " kmg".index(match[2] or " ")


def rendered(values_name: str, *extra: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(render.render(VALUES[values_name], *extra)) if doc]


def one(resources: list[dict], kind: str) -> dict:
    found = [r for r in resources if r["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} rendered"
    return found[0]


def triton_container(resources: list[dict]) -> dict:
    pod = one(resources, "Deployment")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "triton")


@pytest.mark.parametrize("values_name", sorted(VALUES))
def test_every_values_file_renders_and_validates(helm_binary, values_name):
    resources, problems = validate.check_documents(render.render(VALUES[values_name]))
    assert not problems, "\n".join(map(str, problems))
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "Service", "PodDisruptionBudget", "PrometheusRule", "Secret"} <= kinds
    assert kinds & {"HorizontalPodAutoscaler", "ScaledObject"}


@pytest.mark.parametrize("values_name", sorted(VALUES))
def test_triton_flags_are_triton_args(helm_binary, values_name):
    resources = rendered(values_name)
    container = triton_container(resources)
    args = container["args"]
    repository = args[0].removeprefix("--model-repository=")
    values = yaml.safe_load(VALUES["values.yaml"].read_text())
    cluster_only = [f"--exit-timeout-secs={values['triton']['drain']['exitTimeoutSeconds']}"]
    # The key: Kubernetes puts the Secret's value where $(TRITON_CONTROL_KEY) stands.
    assert values["triton"]["ports"] == CONTAINER_PORTS
    expected = [
        *triton_args(repository, control_key=KEY_REFERENCE, ports=CONTAINER_PORTS),
        *cluster_only,
    ]
    assert args == expected, "triton.args in values.yaml differ from triton_args(): update them"
    # tritonserver with those args, after removing the stub regions a previous container left
    # in the pod's /dev/shm (an emptyDir outlives a restarted container).
    shell, flag, script, name = container["command"]
    assert (shell, flag, name) == ("sh", "-c", "tritonserver")
    assert script == 'rm -f /dev/shm/triton_*_shm_region_*; exec tritonserver "$@"'
    key = next(e for e in container["env"] if e["name"] == "TRITON_CONTROL_KEY")
    assert key["valueFrom"]["secretKeyRef"]["key"] == "control-key"


def test_restricted_apis_default_is_env_setting():
    """One definition: the chart's default restricted API groups are .env's."""
    values = yaml.safe_load(VALUES["values.yaml"].read_text())
    env = stack_settings.parse_env_file(ROOT / ".env")
    assert values["controlKey"]["restrictedApis"] == env["TRITON_RESTRICTED_APIS"]


@pytest.mark.parametrize("apis", ["model-repository,trace,logging", "none"])
def test_restricted_apis_setting_reaches_the_flags(helm_binary, monkeypatch, apis):
    """Another choice renders the flags triton_args() gives for it; `none` renders no key flag."""
    escaped = apis.replace(",", "\\,")  # --set splits at unescaped commas
    container = triton_container(
        rendered("values.yaml", "--set-string", f"controlKey.restrictedApis={escaped}")
    )
    args = container["args"]
    monkeypatch.setenv("TRITON_RESTRICTED_APIS", apis)
    expected = triton_args(
        args[0].removeprefix("--model-repository="),
        control_key=KEY_REFERENCE,
        ports=CONTAINER_PORTS,
    )
    assert args[:-1] == expected
    assert any("restricted" in arg for arg in args) == (apis != "none")


def test_start_command_clears_old_stub_regions_and_passes_every_arg_on(helm_binary, tmp_path):
    """The rendered start command, run by a real sh, on a stand-in /dev/shm folder and with a
    stand-in tritonserver that records its arguments."""
    container = triton_container(rendered("values.yaml"))
    shm, bin_dir = tmp_path / "shm", tmp_path / "bin"
    shm.mkdir()
    bin_dir.mkdir()
    left = ["triton_python_backend_shm_region_1", "triton_onnxruntime_backend_shm_region_2"]
    kept = ["tos_123_input0", "other"]  # client regions and anything else stay
    for name in left + kept:
        (shm / name).write_bytes(b"x")
    recorder = bin_dir / "tritonserver"
    recorder.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    recorder.chmod(0o755)
    shell, flag, script, name = container["command"]
    script = script.replace("/dev/shm", str(shm))
    args = ["--model-repository=/models", "--http-restricted-api=a,b:k=v w", "--log-info=true"]
    result = subprocess.run(
        [shell, flag, script, name, *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    assert result.stdout.splitlines() == args
    assert sorted(p.name for p in shm.iterdir()) == sorted(kept)


def test_chart_defaults_match_env_file(helm_binary):
    env = stack_settings.parse_env_file(ROOT / ".env")
    resources = rendered("values.yaml")
    container = triton_container(resources)
    assert container["image"] == f"nvcr.io/nvidia/tritonserver:{env['TRITON_VERSION']}-py3"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "http": int(env["TRITON_HTTP_PORT"]),
        "grpc": int(env["TRITON_GRPC_PORT"]),
        "metrics": int(env["TRITON_METRICS_PORT"]),
    }
    assert container["args"][0] == f"--model-repository={env['CONTAINER_MODEL_REPOSITORY']}"
    headers = {e["name"]: e.get("value") for e in container["env"]}
    assert headers["CONTROL_KEY_HEADER"] == env["CONTROL_KEY_HEADER"]
    shm = next(
        v for v in one(resources, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "dshm"
    )  # fmt: skip
    assert size_bytes(shm["emptyDir"]["sizeLimit"]) == size_bytes(env["SHM_SIZE"])


def test_probes_and_drain(helm_binary):
    resources = rendered("values.yaml")
    container = triton_container(resources)
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    exit_timeout = int(container["args"][-1].split("=")[1])
    grace = one(resources, "Deployment")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert grace > sleep + exit_timeout
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("values_name", sorted(VALUES))
def test_prometheus_rule_is_the_monitoring_rules(helm_binary, values_name):
    groups = [
        group
        for path in sorted(RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert one(rendered(values_name), "PrometheusRule")["spec"]["groups"] == groups


def test_dashboard_configmap_is_the_dashboard_files(helm_binary):
    data = next(
        r["data"] for r in rendered("values.yaml")
        if r["kind"] == "ConfigMap" and r["metadata"]["name"].endswith("-dashboards")
    )  # fmt: skip
    expected = {path.name: path.read_text() for path in DASHBOARDS_DIR.glob("*.json")}
    assert data == expected
    assert all(json.loads(text)["panels"] for text in data.values())


def test_scaling_metric_is_the_recording_rule(helm_binary):
    records = {
        rule["record"]
        for group in yaml.safe_load((RULES_DIR / "recording.yml").read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    signal = "pod:nv_inference_queue_compute_ratio:rate1m"
    assert signal in records
    resources = rendered("values.yaml")
    adapter = yaml.safe_load(
        next(r for r in resources if r["metadata"]["name"].endswith("-adapter-rules"))["data"][
            "config.yaml"
        ]
    )["rules"][0]
    assert adapter["seriesQuery"].startswith(signal + "{")
    hpa = one(resources, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    metric = hpa["spec"]["metrics"][0]["pods"]
    assert metric["metric"]["name"] == adapter["name"]["as"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] > 0
    keda = one(rendered("values-keda-s3.yaml"), "ScaledObject")
    trigger = keda["spec"]["triggers"][0]
    assert trigger["metadata"]["query"].startswith(f"sum({signal}{{")
    assert trigger["metadata"]["threshold"] == metric["target"]["averageValue"]
    behavior = keda["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior == hpa["spec"]["behavior"]


def test_url_repository_has_no_volume_and_no_exporter(helm_binary):
    resources = rendered("values-keda-s3.yaml")
    assert (
        triton_container(resources)["args"][0]
        == "--model-repository=s3://my-models/model_repository"
    )
    assert not [
        r for r in resources if r["kind"] in ("PersistentVolumeClaim", "HorizontalPodAutoscaler")
    ]
    assert all(r["metadata"]["name"].endswith("load-test") for r in resources if r["kind"] == "Job")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("modelRepository.source=nfs", "modelRepository.source must be pvc or url"),
        ("modelRepository.source=url", "modelRepository.url is required"),
        ("monitoring.podMonitor.enabled=true", "enable one"),
        ("autoscaling.engine=vpa", "autoscaling.engine must be hpa or keda"),
    ],
)
def test_bad_values_fail_naming_the_setting(helm_binary, setting, message):
    done = subprocess.run(
        [str(helm_binary), "template", "t", str(render.CHART), "--set", setting],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and message in done.stderr, done.stderr


def _mutated(resources: list[dict], kind: str, change) -> dict:
    resource = copy.deepcopy(one(resources, kind))
    change(resource)
    return resource


def test_validation_catches_what_a_cluster_would_refuse(helm_binary):
    resources = rendered("values.yaml")
    bad = {
        "unknown field": _mutated(
            resources, "Deployment",
            lambda r: r["spec"]["template"]["spec"]["containers"][0].update(livenessprobe={}),
        ),
        "removed API": _mutated(
            resources, "HorizontalPodAutoscaler",
            lambda r: r.update(apiVersion="autoscaling/v2beta2"),
        ),
        "CRD unknown field": _mutated(
            resources, "ServiceMonitor", lambda r: r["spec"]["endpoints"][0].update(intervall="15s")
        ),
        "CRD wrong type": _mutated(
            resources, "PrometheusRule", lambda r: r["spec"]["groups"][0].update(rules="none")
        ),
    }  # fmt: skip
    for what, resource in bad.items():
        assert validate.check(resource), f"{what} passed validation"
    assert "no such API" in str(validate.check(bad["removed API"])[0])


def test_packaged_chart_carries_the_linked_files(helm_binary, tmp_path):
    """files/ links into monitoring/: `helm package` must copy the contents, not the links."""
    subprocess.run(
        [str(helm_binary), "package", str(render.CHART), "-d", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    (archive,) = tmp_path.glob("*.tgz")
    with tarfile.open(archive) as chart:
        names = {m.name for m in chart.getmembers() if m.isfile()}
        rules = chart.extractfile("triton-onnx-stack/files/prometheus-rules/recording.yml")
        assert (
            rules is not None and rules.read().decode() == (RULES_DIR / "recording.yml").read_text()
        )
    assert "triton-onnx-stack/files/grafana-dashboards/triton.json" in names
