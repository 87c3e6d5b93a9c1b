"""Candidate configs as Triton `ModelConfig` messages (the schema tritonclient ships).

Text is written with protobuf's text format and parsed back before it is used, as the
exporter does, so a candidate the schema would refuse never reaches the server.
"""

from __future__ import annotations

import hashlib

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from optimize.space import Candidate


class ConfigError(ValueError):
    """The serving config cannot be searched (names the model and why)."""


def parse(text: str, where: str) -> mc.ModelConfig:
    """config.pbtxt text -> ModelConfig, naming the file when the schema refuses it."""
    try:
        return text_format.Parse(text, mc.ModelConfig())
    except text_format.ParseError as exc:
        raise ConfigError(f"{where}: not a valid Triton config ({exc})") from exc


def to_text(config: mc.ModelConfig) -> str:
    """Text form, checked by parsing it back."""
    text = text_format.MessageToString(config)
    text_format.Parse(text, mc.ModelConfig())
    return text


def check_searchable(model: str, config: mc.ModelConfig) -> None:
    """Refuse configs whose knobs this search does not own (ensembles, sequence batching)."""
    if config.platform == "ensemble":
        raise ConfigError(
            f"model {model!r} is an ensemble: it has no instances or batcher of its own; "
            f"optimize its steps instead"
        )
    if config.HasField("sequence_batching"):
        raise ConfigError(
            f"model {model!r} uses sequence_batching; this search tunes the dynamic batcher only"
        )


def serving_candidate(config: mc.ModelConfig) -> Candidate:
    """The serving config's own point (instances, batch, delay, preferred)."""
    instances = sum(g.count or 1 for g in config.instance_group) or 1
    batching = config.dynamic_batching
    preferred = "max" if list(batching.preferred_batch_size) == [config.max_batch_size] else "off"
    return Candidate(
        instances, config.max_batch_size, batching.max_queue_delay_microseconds, preferred
    ).canonical()


def candidate_config(base: mc.ModelConfig, name: str, candidate: Candidate) -> mc.ModelConfig:
    """`base` with the candidate's knobs; every other field (tensors, backend, ...) kept."""
    config = mc.ModelConfig()
    config.CopyFrom(base)
    config.name = name
    config.max_batch_size = candidate.max_batch_size
    if not config.instance_group:
        config.instance_group.add()
    # The count goes to the first group; further groups (other devices) are dropped.
    del config.instance_group[1:]
    config.instance_group[0].count = candidate.instances
    if candidate.max_batch_size > 0:
        batching = config.dynamic_batching
        batching.max_queue_delay_microseconds = candidate.queue_delay_us
        del batching.preferred_batch_size[:]
        if candidate.preferred == "max" and candidate.max_batch_size > 1:
            batching.preferred_batch_size.append(candidate.max_batch_size)
    else:
        config.ClearField("dynamic_batching")
    for warmup in config.model_warmup:  # Triton refuses a warmup batch above max_batch_size
        if candidate.max_batch_size > 0:
            warmup.batch_size = min(warmup.batch_size, candidate.max_batch_size)
    return config


def candidate_hash(base: mc.ModelConfig, candidate: Candidate) -> str:
    """8 hex digits naming a candidate of this base config (stable across runs: resume)."""
    text = to_text(candidate_config(base, "", candidate))
    return hashlib.sha1(text.encode()).hexdigest()[:8]
