"""The compose stack on a real Docker engine: what only the containers can show.

Non-disruptive checks first (file order), then faults: triton restarted under load, alerts
delivered when triton stops, and two side projects (a model that fails to load, an exporter
that fails) that must not start serving. Each of the four failures first seen on a real engine
has its test here: build without a registry (the session's images), `SHM_SIZE` as tmpfs takes
it (triton healthy at all), no memlock on the cpu profile (same), the client still scraped after
its load (test_prometheus_scrapes_triton_and_the_finished_client).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from launcher import compose_runner
from local_stack import prometheus
from tests.conftest import PORT_BASE
from tests.e2e.conftest import SNAPSHOT, compose
from tests.reliability.cli_runs import scrape, start_client, summary, wait_for_answers
from tests.stack import exported

MODELS = ("simple_cnn", "simple_transformer")
CLIENT_WARMUP = 1  # the client's default --warmup per worker: answered by Triton, not counted
ORT_ATOL = 1e-5


@pytest.fixture(scope="module")
def reports(stack, e2e_environment) -> Path:
    return Path(e2e_environment["E2E_REPORTS"]) / "latest"


def test_exporter_exited_zero_and_triton_is_healthy(stack):
    assert compose_runner.container_state("exporter")["ExitCode"] == 0
    assert compose_runner.container_state("triton-cpu")["Health"]["Status"] == "healthy"


# The e2e override runs these as the test's uid (host /dev/shm and folders); their images' own
# users (and compose.yaml's `user:`) are non-root, which make up uses.
RUN_AS_TEST_UID = {"exporter", "triton-cpu", "client-cpu"}
# keygen owns the fresh secret volumes as uid 0, with no capability and no network.
ROOT_WITHOUT_CAPABILITIES = {"keygen"}


def _inspect(kind: str, name: str) -> dict:
    result = subprocess.run(
        ["docker", kind, "inspect", name], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)[0]


def test_every_running_service_is_hardened(stack):
    """docker inspect of each service: no capabilities, no-new-privileges, read-only root,
    a memory limit, a non-root user (the image's, for those the e2e runs as the test's uid)."""
    listed = compose("ps", "--all", "--format", "{{.Service}} {{.ID}}").stdout.split("\n")
    containers = dict(line.split() for line in listed if line.strip())
    expected = {"keygen", "exporter", "triton-cpu", "client-cpu", "prometheus", "alertmanager"}
    assert expected <= set(containers)
    for service, container in containers.items():
        info = _inspect("container", container)
        host = info["HostConfig"]
        assert host["CapDrop"] == ["ALL"], service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["ReadonlyRootfs"] is True, service
        assert host["Memory"] > 0, service
        user = info["Config"]["User"]
        if service in ROOT_WITHOUT_CAPABILITIES:
            assert host["NetworkMode"] == "none" and not host["CapAdd"], service
            continue
        if service in RUN_AS_TEST_UID:
            user = _inspect("image", info["Config"]["Image"])["Config"]["User"]
        assert user and user.split(":")[0] not in ("0", "root"), f"{service} runs as {user!r}"


def test_client_container_outputs_equal_onnxruntime_over_system_shm(reports):
    status = json.loads((reports / "status.json").read_text())
    assert status == {"models": dict.fromkeys(MODELS, 0), "exit_code": 0}
    for model in MODELS:
        (entry,) = json.loads((reports / model / "summary.json").read_text())
        assert entry["shm"] == "system" and entry["requests_failed"] == 0
        assert entry["verified"] == entry["requests_ok"] > 0
        assert entry["max_abs_diff"] <= ORT_ATOL, model


def test_prometheus_scrapes_triton_and_the_finished_client(stack, prometheus_base):
    for job in ("triton", "client"):
        prometheus.wait_for(prometheus_base, f'up{{job="{job}"}} == 1', bool, timeout=60)


def test_prometheus_counts_equal_the_client_and_triton(stack, reports, prometheus_base):
    """The client container's counts, Triton's own counters and Prometheus's view agree."""
    snapshot = SNAPSHOT["triton_success"]  # taken before any other test sent traffic
    for model in MODELS:
        (entry,) = json.loads((reports / model / "summary.json").read_text())
        ok, concurrency = entry["requests_ok"], entry["concurrency"]
        expected = model_warmup_requests(stack.repository, model) + ok + CLIENT_WARMUP * concurrency
        assert snapshot[model] == expected, model
        promql = f'sum(last_over_time(tos_client_requests_total{{model="{model}"}}[1h]))'
        result = prometheus.wait_for(
            prometheus_base,
            promql,
            lambda r, ok=ok: r and float(r[0]["value"][1]) == ok,
            timeout=60,
        )
        assert float(result[0]["value"][1]) == ok


def model_warmup_requests(repository: Path, model: str) -> int:
    """Requests Triton's own model_warmup sends at load (it counts them as successes)."""
    from google.protobuf import text_format  # noqa: PLC0415
    from tritonclient.grpc import model_config_pb2  # noqa: PLC0415

    config = text_format.Parse(
        (repository / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    return sum(max(warmup.count, 1) for warmup in config.model_warmup)


def test_restart_of_triton_under_load_client_recovers_and_counts_reconcile(stack, tmp_path):
    """`docker compose restart triton-cpu` while the client drives it: the client goes on, and
    its answers = those of the old server + Triton's count after the restart (warmup aside)."""
    model, metrics_port, rate, duration = "simple_transformer", PORT_BASE + 157, 40, 45
    client_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    client = start_client(
        model,
        stack.http,
        tmp_path,
        *("--protocol", "http", "--shm", "system", "--concurrency", "2"),
        # Paced and long enough to outlast the restart (graceful stop + start + model load).
        *("--rate", str(rate), "--duration", str(duration), "--timeout", "30"),
        *("--metrics-port", str(metrics_port)),
    )
    try:
        wait_for_answers(metrics_port, model, at_least=20)
        answered_before = scrape(client_metrics, "tos_client_requests_total", model)
        compose("restart", "triton-cpu")
        answered_by_restart_end = scrape(client_metrics, "tos_client_requests_total", model)
        _, stderr = client.communicate(timeout=600)
    finally:
        client.kill()
    entry = summary(tmp_path)
    served_after = scrape(stack.metrics_url, "nv_inference_request_success", model)
    served_after -= model_warmup_requests(stack.repository, model)
    assert client.returncode in (0, 1), stderr[-2000:]
    assert entry["requests_ok"] + entry["requests_failed"] == rate * duration
    assert served_after > 0, f"no answer after the restart: {stderr[-2000:]}"
    answered_by_old_server = entry["requests_ok"] - served_after
    assert answered_before <= answered_by_old_server <= answered_by_restart_end
    # Nothing left behind; the one expected note: server statistics span two servers.
    assert all("not comparable" in problem for problem in entry["cleanup_problems"])


def test_alert_reaches_alertmanager_when_triton_stops(stack):
    stopped_at = time.time()
    compose("stop", "triton-cpu")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if any(
                alert["alertname"] == "TritonDown"
                and alert["status"] == "firing"
                and _epoch(alert["startsAt"]) >= stopped_at - 2
                for alert in delivered_alerts()
            ):
                break
            time.sleep(3)
        else:
            pytest.fail(f"no TritonDown delivered to alert-log: {delivered_alerts()}")
    finally:
        compose("start", "triton-cpu")
        compose_runner.wait_for_client("client-cpu", "triton-cpu", timeout_s=300)
        _wait_healthy("triton-cpu")


def delivered_alerts() -> list[dict]:
    """Notifications the alert-log webhook received (one JSON line each in its log)."""
    log = compose("logs", "--no-color", "--no-log-prefix", "alert-log").stdout
    return [
        json.loads(line[len("alert ") :]) for line in log.splitlines() if line.startswith("alert ")
    ]


def _epoch(timestamp: str) -> float:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _wait_healthy(service: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while compose_runner.container_state(service).get("Health", {}).get("Status") != "healthy":
        assert time.monotonic() < deadline, f"{service} not healthy again"
        time.sleep(2)


def test_exporter_rerun_on_the_same_volume_reuses_the_repository(stack):
    """`down` then `up` runs the exporter again on the kept volume: it reuses, it does not redo."""
    result = compose("run", "--rm", "--no-deps", "exporter")
    assert "(unchanged, reused)" in result.stdout + result.stderr, result.stdout[-2000:]


SIDE_PORTS = {
    "TRITON_HTTP_PORT": str(PORT_BASE + 160),
    "TRITON_GRPC_PORT": str(PORT_BASE + 161),
    "TRITON_METRICS_PORT": str(PORT_BASE + 162),
}


@pytest.fixture
def side_project(tmp_path, e2e_environment):
    """A second compose project on its own workspace and ports, removed afterwards."""
    workspace = tmp_path / "workspace"
    (workspace / "model_repository").mkdir(parents=True)
    values = SIDE_PORTS | {
        "COMPOSE_PROJECT_NAME": f"{e2e_environment['COMPOSE_PROJECT_NAME']}-side",
        "E2E_WORKSPACE": str(workspace),
    }
    with exported(values):
        try:
            yield workspace / "model_repository"
        finally:
            compose("--profile", "*", "down", "--volumes", "--remove-orphans", check=False)


def test_a_model_that_fails_to_load_keeps_triton_unready_naming_the_reason(side_project):
    broken = side_project / "broken_model" / "1"
    broken.mkdir(parents=True)
    (broken / "model.onnx").write_bytes(b"this is not an onnx file")
    (broken.parent / "config.pbtxt").write_text('backend: "onnxruntime"\nmax_batch_size: 4\n')
    compose("run", "--rm", "keygen")  # the key triton's entrypoint reads (no exporter: --no-deps)
    compose("up", "--detach", "--no-deps", "triton-cpu")
    with pytest.raises(compose_runner.ComposeError) as failure:
        compose_runner.wait_for_client("client-cpu", "triton-cpu", timeout_s=300)
    message = str(failure.value)
    assert "broken_model" in message and "docker compose logs triton-cpu" in message
    assert "broken_model" in compose("logs", "triton-cpu").stdout


def test_a_failing_exporter_keeps_triton_from_starting(side_project):
    with exported({"CNN_HEIGHT": "not-a-number"}):
        result = compose("up", "--detach", "triton-cpu", check=False)
        assert result.returncode != 0
        assert "exporter" in result.stderr
        assert compose_runner.container_state("triton-cpu").get("Status") != "running"
        with pytest.raises(compose_runner.ComposeError, match="the exporter exited"):
            compose_runner.wait_for_client("client-cpu", "triton-cpu", timeout_s=120)
    assert "CNN_HEIGHT" in compose("logs", "exporter").stdout


def test_nothing_of_the_side_projects_is_left(e2e_environment):
    label = f"label=com.docker.compose.project={e2e_environment['COMPOSE_PROJECT_NAME']}-side"
    for listing in (["ps", "--all"], ["volume", "ls"]):
        command = ["docker", *listing, "--quiet", "--filter", label]
        left = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        assert left.strip() == "", f"{' '.join(command)} lists {left.split()}"
