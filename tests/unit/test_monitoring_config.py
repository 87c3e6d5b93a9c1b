"""Prometheus config, rules and Grafana dashboards: checked by promtool and by their structure."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from local_stack import prometheus

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
GRAFANA_DIR = MONITORING / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool missing: apt-get install -y prometheus (.ci/run installs it)",
)


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


def _build_module():
    spec = importlib.util.spec_from_file_location(
        "build_dashboard", GRAFANA_DIR / "build_dashboard.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_promtool
def test_promtool_accepts_the_compose_config():
    result = _promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_rendered_local_config(tmp_path):
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus.render_config(prometheus.local_targets(18002, 19100, "127.0.0.1")))
    result = _promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize(
    "rule_test", sorted((PROMETHEUS_DIR / "tests").glob("*_test.yml")), ids=lambda p: p.name
)
def test_promtool_rule_unit_tests_pass(rule_test):
    result = _promtool("test", "rules", str(rule_test))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test():
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((PROMETHEUS_DIR / "rules" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    tests = yaml.safe_load((PROMETHEUS_DIR / "tests" / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    firing = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert alerts == tested == firing


def test_local_config_differs_from_compose_only_in_targets_rule_paths_and_alerting():
    compose = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    local = yaml.safe_load(
        prometheus.render_config(prometheus.local_targets(18002, 19100, "127.0.0.1"))
    )
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in local["scrape_configs"]
    }
    assert targets == {"triton": ["127.0.0.1:18002"], "client": ["127.0.0.1:19100"]}
    assert local["rule_files"] == [f"{PROMETHEUS_DIR}/rules/*.yml"]
    for config in (compose, local):
        for job in config["scrape_configs"]:
            job.pop("static_configs")
        config.pop("rule_files")
    # compose sends alerts to its alertmanager service; the local path has none.
    assert compose.pop("alerting")["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert "alerting" not in local
    assert local == compose
    assert compose["global"]["scrape_interval"] == "1s"  # fits a benchmark of seconds


def test_compose_config_keeps_the_service_targets():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets == {"triton": ["triton:8002"], "client": ["client:9100"]}


def test_checked_in_dashboard_is_what_the_builder_writes():
    build = _build_module()
    assert build.OUTPUT.read_text() == build.render(), (
        "dashboard JSON is stale: run python monitoring/grafana/build_dashboard.py"
    )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_ids_and_datasource_refs_are_valid(path):
    provisioned = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {source["uid"]: source["type"] for source in provisioned}
    dashboard = json.loads(path.read_text())
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}: {ids}"
    refs = [panel["datasource"] for panel in panels]
    refs += [target["datasource"] for panel in panels for target in panel["targets"]]
    refs += [variable["datasource"] for variable in dashboard["templating"]["list"]]
    for ref in refs:
        assert uids.get(ref["uid"]) == ref["type"], f"{path.name}: unknown datasource {ref}"
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"model", "instance"}
    assert all(panel["targets"] and all(t["expr"] for t in panel["targets"]) for panel in panels)


def test_dashboard_provider_points_where_compose_mounts_the_dashboards():
    provider = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_make_up_without_prometheus_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from local_stack import pipeline  # noqa: PLC0415

    monkeypatch.setenv("PATH", str(tmp_path))  # no prometheus binary on it
    assert pipeline.start_prometheus(tmp_path) is False
    assert "apt-get install -y prometheus" in capsys.readouterr().out
    assert not (tmp_path / "pids" / "prometheus.pid").exists()


def test_client_rejects_a_negative_linger():
    from tests.conftest import run_module  # noqa: PLC0415

    result = run_module("client", "--model", "m", "--requests", "1", "--linger", "-1", check=False)
    assert result.returncode == 2 and "--linger must be >= 0" in result.stderr
