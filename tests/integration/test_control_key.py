"""The control APIs of the real server refuse callers without the key, over HTTP and gRPC.

The session's server runs with exactly the flags `make up` and compose use (triton_args), its key
generated on first use in the test run dir. Each refusal is checked for having changed nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as system_shm
from tritonclient.utils import InferenceServerException

from client.errors import explain, is_connection_error
from stack_settings.control_key import control_header_name, control_headers, control_key_file
from tests.conftest import PROJECT_ROOT, ports_at, run_module
from tests.stack import repository_index_status

PROTOCOLS = ["http", "grpc"]
WRONG_KEY = {"tos-control-key": "not-the-key-0123456789", "triton-grpc-protocol-tos-control-key": "not-the-key-0123456789"}  # fmt: skip
NO_KEY: dict[str, str] = {}


def client_for(protocol: str, stack):
    if protocol == "http":
        return httpclient.InferenceServerClient(stack.http)
    return grpcclient.InferenceServerClient(stack.grpc)


def refused(call) -> str:
    """The server's refusal of `call` (which must be refused for want of the key)."""
    with pytest.raises(InferenceServerException) as caught:
        call()
    message = str(caught.value)
    assert "is restricted, expecting header" in message, message
    return message


def region_names(client, protocol: str) -> set[str]:
    status = client.get_system_shared_memory_status(headers=control_headers())
    if protocol == "http":
        return {region["name"] for region in status}
    return set(status.regions)


@pytest.fixture(scope="module")
def extra_model(stack):
    """A model folder added after the server started; left loaded at the end.

    Triton 2.51's (strict) readiness is false while a model is UNLOADING (about 3 s here), so
    each test ends with the model loaded again: later tests find the server ready at once.
    """
    name = f"keyed_{os.getpid()}"
    folder = stack.repository / name
    (folder / "1").mkdir(parents=True)
    shutil.copy(stack.repository / "simple_transformer" / "1" / "model.onnx", folder / "1")
    (folder / "config.pbtxt").write_text('backend: "onnxruntime"\n')
    return name


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("headers", [NO_KEY, WRONG_KEY], ids=["no-key", "wrong-key"])
def test_model_control_needs_the_key(stack, extra_model, protocol, headers):
    client = client_for(protocol, stack)
    try:
        if client.is_model_ready(extra_model):
            client.unload_model(extra_model, headers=control_headers())
        refused(lambda: client.load_model(extra_model, headers=headers))
        assert not client.is_model_ready(extra_model)
        client.load_model(extra_model, headers=control_headers())
        assert client.is_model_ready(extra_model)

        refused(lambda: client.unload_model(extra_model, headers=headers))
        refused(lambda: client.unload_model("simple_cnn", headers=headers))
        assert client.is_model_ready(extra_model) and client.is_model_ready("simple_cnn")
        refused(lambda: client.get_model_repository_index(headers=headers))
        client.unload_model(extra_model, headers=control_headers())
        assert not client.is_model_ready(extra_model)
    finally:
        client.load_model(extra_model, headers=control_headers())
    assert client.is_server_ready()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shared_memory_registration_needs_the_key(stack, protocol):
    client = client_for(protocol, stack)
    name = f"tos_{os.getpid()}_keytest_{protocol}"
    handle = system_shm.create_shared_memory_region(name, f"/{name}", 64)
    try:
        refused(lambda: client.register_system_shared_memory(name, f"/{name}", 64))
        assert name not in region_names(client, protocol)
        refused(lambda: client.get_system_shared_memory_status())

        client.register_system_shared_memory(name, f"/{name}", 64, headers=control_headers())
        assert name in region_names(client, protocol)
        refused(lambda: client.unregister_system_shared_memory(name, headers=WRONG_KEY))
        assert name in region_names(client, protocol)
        client.unregister_system_shared_memory(name, headers=control_headers())
        assert name not in region_names(client, protocol)
    finally:
        client.unregister_system_shared_memory(name, headers=control_headers())
        system_shm.destroy_shared_memory_region(handle)


def _setting(settings, protocol: str, name: str):
    """One trace/log setting's value, from either protocol's answer."""
    if protocol == "http":
        value = settings[name]
        return value[0] if isinstance(value, list) else value
    entry = settings.settings[name]
    if hasattr(entry, "value"):  # trace settings: repeated strings
        return entry.value[0]
    return getattr(entry, entry.WhichOneof("parameter_choice"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_trace_settings_need_the_key(stack, protocol):
    client = client_for(protocol, stack)
    before = _setting(client.get_trace_settings(headers=control_headers()), protocol, "trace_rate")
    wanted = "7" if before != "7" else "8"
    refused(lambda: client.update_trace_settings(settings={"trace_rate": wanted}))
    refused(lambda: client.get_trace_settings())
    now = client.get_trace_settings(headers=control_headers())
    assert _setting(now, protocol, "trace_rate") == before
    try:
        client.update_trace_settings(settings={"trace_rate": wanted}, headers=control_headers())
        now = client.get_trace_settings(headers=control_headers())
        assert _setting(now, protocol, "trace_rate") == wanted
    finally:
        client.update_trace_settings(settings={"trace_rate": before}, headers=control_headers())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_log_settings_need_the_key(stack, protocol):
    client = client_for(protocol, stack)
    before = _setting(
        client.get_log_settings(headers=control_headers()), protocol, "log_verbose_level"
    )
    wanted = int(before) + 1
    refused(lambda: client.update_log_settings(settings={"log_verbose_level": wanted}))
    refused(lambda: client.get_log_settings())
    now = client.get_log_settings(headers=control_headers())
    assert int(_setting(now, protocol, "log_verbose_level")) == int(before)
    try:
        client.update_log_settings({"log_verbose_level": wanted}, headers=control_headers())
        now = client.get_log_settings(headers=control_headers())
        assert int(_setting(now, protocol, "log_verbose_level")) == wanted
    finally:
        client.update_log_settings({"log_verbose_level": int(before)}, headers=control_headers())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_serving_stays_open_without_the_key(stack, protocol):
    """Health, metadata, config, statistics and inference answer callers without a key."""
    client = client_for(protocol, stack)
    assert client.is_server_ready() and client.is_model_ready("simple_transformer")
    client.get_model_metadata("simple_transformer")
    client.get_model_config("simple_transformer")
    client.get_inference_statistics("simple_transformer")
    module = httpclient if protocol == "http" else grpcclient
    data = np.zeros([1, 8, 64], np.float32)  # conftest SMALL_MODELS: seq 8, d_model 64
    metadata = client.get_model_metadata("simple_transformer")
    input_name = metadata["inputs"][0]["name"] if protocol == "http" else metadata.inputs[0].name
    tensor = module.InferInput(input_name, list(data.shape), "FP32")
    tensor.set_data_from_numpy(data)
    assert client.infer("simple_transformer", [tensor]) is not None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_refusal_reads_as_a_missing_key_not_a_lost_server(stack, protocol):
    client = client_for(protocol, stack)
    with pytest.raises(InferenceServerException) as caught:
        client.load_model("simple_cnn")
    message = explain(caught.value)
    assert "needs the control key" in message
    assert control_header_name() in message and str(control_key_file()) in message
    assert not is_connection_error(caught.value)  # gRPC says UNAVAILABLE, yet the server is up


def test_client_without_the_key_stops_with_the_setting_and_the_fix(stack):
    """A shm run whose key is wrong exits 2 before any load, naming header and key file."""
    env = os.environ | {"TRITON_CONTROL_KEY": WRONG_KEY["tos-control-key"]}
    result = run_module(
        "client", "--model", "simple_cnn", "--url", stack.http, "--shm", "system",
        "--requests", "2", "--quiet", env=env, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs the control key" in result.stderr and "tos-control-key" in result.stderr
    assert "CONTROL_KEY_FILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_key_file_is_private_and_ignored_by_git(stack):
    path = control_key_file()
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for where in (
        PROJECT_ROOT / ".stack" / "control.key",
        PROJECT_ROOT / "elsewhere" / "control.key",
    ):
        ignored = subprocess.run(["git", "check-ignore", "-q", str(where)], cwd=PROJECT_ROOT)
        assert ignored.returncode == 0, f"{where} is not ignored by git"
    tracked = subprocess.run(
        ["git", "ls-files", "*.key", "**/control.key"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert tracked.stdout == ""


def test_rotate_key_restarts_a_running_server_with_the_new_key(tmp_path):
    """`make rotate-key` on a running local server: old key refused, new key accepted."""
    (tmp_path / "repository").mkdir()
    env = os.environ | ports_at(70) | {
        "STACK_RUN_DIR": str(tmp_path / "run"),
        "MODEL_REPOSITORY": str(tmp_path / "repository"),
    }  # fmt: skip
    env.pop("CONTROL_KEY_FILE", None)
    env.pop("TRITON_CONTROL_KEY", None)
    http = f"127.0.0.1:{env['TRITON_HTTP_PORT']}"
    key_file = tmp_path / "run" / "control.key"
    try:
        run_module("local_stack", "serve", env=env, timeout=300)
        old = key_file.read_text().strip()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert (repository_index_status(http, None), repository_index_status(http, old)) == (
            403,
            200,
        )

        rotated = run_module("launcher", "key", "rotate", env=env, timeout=300)
        assert "restarting the local tritonserver" in rotated.stdout
        new = key_file.read_text().strip()
        assert new != old and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert (repository_index_status(http, old), repository_index_status(http, new)) == (
            403,
            200,
        )
    finally:
        run_module("local_stack", "down", env=env, check=False)
