"""Nothing is exposed beyond what the stack needs: the local server listens on loopback
only; the images run as non-root and carry no secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local_stack.processes import listening_addresses
from tests.conftest import PROJECT_ROOT

# 127.0.0.1 in /proc's hex, as IPv4 and as IPv4-mapped IPv6 (gRPC binds that way);
# 0.0.0.0 or :: (all interfaces) must never appear.
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}


def test_local_server_ports_listen_on_loopback_only(stack):
    ports = [int(stack.http.rsplit(":", 1)[1]), int(stack.grpc.rsplit(":", 1)[1])]
    ports.append(int(stack.metrics_url.rsplit(":", 1)[1].split("/")[0]))
    for port in ports:
        listeners = listening_addresses(port)
        assert listeners, f"nothing listens on port {port}"
        assert set(listeners) <= LOOPBACK, f"port {port} listens beyond loopback: {listeners}"


DOCKERFILES = {
    "exporter": PROJECT_ROOT / "docker" / "exporter.Dockerfile",
    "client": PROJECT_ROOT / "docker" / "client.Dockerfile",
}
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY", re.IGNORECASE)


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def dockerfile_problems(path: Path) -> list[str]:
    """Why an image would run as root or carry a secret (empty when neither)."""
    rows = _instructions(path)
    problems = []
    users = [rest.split(":")[0] for keyword, rest in rows if keyword == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append(f"{path.name}: runs as root (add a USER with a non-root account)")
    for keyword, rest in rows:
        if keyword in ("ENV", "ARG"):
            for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:=|\s+)(\S*)", rest):
                if SECRET_NAME.search(name) and value:
                    problems.append(f"{path.name}: {keyword} {name} bakes a value into the image")
    return problems


def test_dockerfile_check_catches_root_and_secrets(tmp_path):
    """The check itself, on a Dockerfile that breaks both rules and one that keeps them."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:3.11-slim\nARG HF_TOKEN=abc123\nENV DB_PASSWORD s3cret\n")
    assert len(dockerfile_problems(bad)) == 3
    good = tmp_path / "good.Dockerfile"
    good.write_text(
        "FROM python:3.11-slim\nARG API_KEY\nRUN useradd -m app \\\n && true\nUSER app\n"
    )
    assert dockerfile_problems(good) == []


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_image_runs_as_non_root_and_holds_no_secrets(image):
    path = DOCKERFILES[image]
    if not path.exists():
        pytest.skip(
            f"{path.relative_to(PROJECT_ROOT)} does not exist yet (the compose work adds it)"
        )
    assert dockerfile_problems(path) == []
