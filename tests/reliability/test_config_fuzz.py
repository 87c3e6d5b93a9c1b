"""The config generator fuzzed over random ONNX signatures: every config it writes parses
with Triton's schema, round-trips unchanged, and loads in the real server.

Hypothesis draws signatures (rank, static/dynamic dims, every element type Triton maps,
tensor names with / : . in them); the models go into two repositories, each loaded by one
private server start.
"""

from __future__ import annotations

import json
import shutil
import urllib.request

import numpy as np
import onnx
import pytest
import tritonclient.http as httpclient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from onnx import TensorProto

from exporter.model_config import (
    ONNX_TO_TRITON,
    ServingOptions,
    UnsupportedModelError,
    build_model_config,
    parse_pbtxt,
    to_pbtxt,
)
from stack_settings.control_key import control_headers
from tests.reliability.servers import private_server
from tests.reliability.tiny_models import add_graph

FUZZED_MODELS = 24  # each costs a backend stub process
# Models per server start. One start of all ~38 stubs aborted once (Triton 2.51's python backend:
# boost lock_exception on a stub's health mutex) on the 2-core CI machine, while earlier runs'
# leaked stub regions held 20 GiB of its 24 GiB in /dev/shm (since fixed: local_stack/processes.py).
# Two starts halve the peak of stubs and their 64 MiB regions.
SERVER_STARTS = 2

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_/:.\-]{0,12}", fullmatch=True)
dims = st.one_of(st.integers(1, 4), st.sampled_from(["n", "m"]))


@st.composite
def signatures(draw):
    """(inputs as (name, elem_type, dims), output names) of a graph to serve.

    A dims list may be empty: a scalar, or (batched) a tensor that is only the batch axis.
    """
    count = draw(st.integers(1, 3))
    tensor_names = draw(st.lists(names, min_size=2 * count, max_size=2 * count, unique=True))
    batched = draw(st.booleans())
    inputs = []
    for i in range(count):
        elem_type = draw(st.sampled_from(sorted(ONNX_TO_TRITON)))
        shape = draw(st.lists(dims, min_size=0, max_size=3))
        inputs.append((tensor_names[i], elem_type, (["batch"] if batched else []) + shape))
    return inputs, tensor_names[count:]


def _generate_configs(repository) -> dict[str, str]:
    written: dict[str, str] = {}
    refused: list[str] = []

    @settings(
        max_examples=FUZZED_MODELS,
        derandomize=False,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(20261124)  # the same models every run: a failure is reproducible
    @given(signatures())
    def generate(signature):
        add_model(signature)

    def add_model(signature):
        inputs, outputs = signature
        name = f"fuzz_{len(written) + len(refused)}"
        model = add_graph(inputs, outputs)
        if any(not tensor_dims for _, _, tensor_dims in inputs):  # unbatched scalar
            with pytest.raises(UnsupportedModelError, match="scalar .* shape \\[1\\]"):
                build_model_config(name, model, ServingOptions())
            refused.append(name)
            return
        config = build_model_config(name, model, ServingOptions())
        text = to_pbtxt(config)
        assert parse_pbtxt(text) == config  # the text form loses nothing
        (repository / name / "1").mkdir(parents=True)
        onnx.save(model, repository / name / "1" / "model.onnx")
        (repository / name / "config.pbtxt").write_text(text)
        written[name] = text

    for elem_type in sorted(ONNX_TO_TRITON):  # every element type at least once
        add_model(([(f"in/{elem_type}:0", elem_type, ["batch", 2, "n"])], [f"out.{elem_type}"]))
    add_model(([("ids", TensorProto.INT64, ["batch"])], ["doubled"]))  # [B] only: reshaped
    generate()
    return written, refused


def test_every_generated_config_parses_and_loads_in_triton(tmp_path):
    repository = tmp_path / "model_repository"
    repository.mkdir()
    written, refused = _generate_configs(repository)
    assert len(written) + len(refused) == FUZZED_MODELS + len(ONNX_TO_TRITON) + 1
    batch_only = f"fuzz_{len(ONNX_TO_TRITON)}"
    assert "reshape" in written[batch_only]
    assert len(written) >= FUZZED_MODELS // 2, "the strategy should mostly draw servable models"
    states = {}
    for index, part in enumerate(_split(repository, SERVER_STARTS)):
        states |= _load_states(part, tmp_path / f"run{index}", batch_only)
    not_ready = {n: states.get(n) for n in written if states.get(n) != "READY"}
    assert not not_ready, "\n\n".join(f"{n} ({s}):\n{written[n]}" for n, s in not_ready.items())


def _split(repository, parts: int) -> list:
    """The repository's models dealt into `parts` repositories (the first keeps its own path)."""
    repositories = [repository] + [
        repository.with_name(f"{repository.name}_{i}") for i in range(1, parts)
    ]
    for target in repositories[1:]:
        target.mkdir()
    for i, model in enumerate(sorted(p for p in repository.iterdir() if p.is_dir())):
        if i % parts:
            shutil.move(model, repositories[i % parts] / model.name)
    return repositories


def _load_states(repository, run_dir, batch_only: str) -> dict[str, str | None]:
    """Serve `repository` in a private server: each model's state, and the [B]-only model checked."""
    with private_server(repository, run_dir, 43) as instance:
        request = urllib.request.Request(
            f"http://{instance.http}/v2/repository/index",
            data=b"{}",
            method="POST",
            headers=control_headers("http"),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            states = {m["name"]: m.get("state") for m in json.load(response)}
        if states.get(batch_only) == "READY":  # one item is [1] on the wire, [B] in the model
            ids = np.array([[3], [5], [7]], np.int64)
            tensor = httpclient.InferInput("ids", [3, 1], "INT64")
            tensor.set_data_from_numpy(ids)
            served = httpclient.InferenceServerClient(instance.http).infer(batch_only, [tensor])
            np.testing.assert_array_equal(served.as_numpy("doubled"), ids * 2)  # exact: ints
    return states
