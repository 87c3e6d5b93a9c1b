"""Exporter settings read from `.env` / the environment (shared by `build` and `add`)."""

from __future__ import annotations

import stack_settings
from exporter.model_config import ServingOptions


def optional_int(name: str) -> int | None:
    """An integer setting that may be left empty (None)."""
    value = stack_settings.get(name, "")
    return int(value) if value.strip() else None


def instance_kind() -> str:
    """INSTANCE_KIND; `auto` (compose's default) follows the profile the container runs under:
    KIND_CPU when COMPOSE_PROFILES holds cpu (triton-cpu), else KIND_GPU (the NGC servers)."""
    kind = stack_settings.get("INSTANCE_KIND", "KIND_CPU").strip()
    if kind != "auto":
        return kind
    profiles = {p.strip() for p in stack_settings.get("COMPOSE_PROFILES", "").split(",")}
    return "KIND_CPU" if "cpu" in profiles else "KIND_GPU"


def serving_options() -> ServingOptions:
    """Config knobs from settings (the same names compose passes to the container)."""
    parameters = {}
    for setting, parameter in (
        ("ORT_INTRA_OP_THREADS", "intra_op_thread_count"),
        ("ORT_INTER_OP_THREADS", "inter_op_thread_count"),
    ):
        if optional_int(setting) is not None:
            parameters[parameter] = str(optional_int(setting))
    return ServingOptions(
        default_max_batch_size=stack_settings.get_int("DEFAULT_MAX_BATCH_SIZE"),
        instance_count=stack_settings.get_int("INSTANCE_COUNT"),
        instance_kind=instance_kind(),
        max_queue_delay_us=stack_settings.get_int("MAX_QUEUE_DELAY_US"),
        parameters=parameters,
        graph_level=optional_int("ORT_GRAPH_LEVEL"),
        warmup_batch_size=optional_int("WARMUP_BATCH_SIZE") or 0,
    )
