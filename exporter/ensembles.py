"""Ensemble configs: one model chained N times (the seed's pipeline benchmark)."""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc


def ensemble_name(model_name: str, steps: int) -> str:
    """simple_cnn, 4 -> ensemble_cnn_4 (the seed's names); other models keep their name."""
    return f"ensemble_{model_name.removeprefix('simple_')}_{steps}"


def chain_ensemble(step: mc.ModelConfig, steps: int) -> mc.ModelConfig:
    """An ensemble feeding `step`'s output into its input `steps` times.

    The step model needs one input and one output of the same type and shape, as the
    seed's models have (a CNN that keeps the image size, an encoder that keeps [seq, d]).
    """
    if steps < 1:
        raise ValueError(f"ensemble of {step.name!r}: steps must be >= 1, got {steps}")
    if len(step.input) != 1 or len(step.output) != 1:
        raise ValueError(
            f"model {step.name!r} has {len(step.input)} inputs and {len(step.output)} outputs; "
            f"only a one-input, one-output model can be chained"
        )
    (source,), (sink,) = step.input, step.output
    if source.data_type != sink.data_type or list(source.dims) != list(sink.dims):
        raise ValueError(
            f"model {step.name!r}: output {sink.name!r} {list(sink.dims)} cannot feed input "
            f"{source.name!r} {list(source.dims)} (type or shape differ)"
        )
    config = mc.ModelConfig(
        name=ensemble_name(step.name, steps),
        platform="ensemble",
        max_batch_size=step.max_batch_size,
    )
    config.input.add().CopyFrom(source)
    config.output.add().CopyFrom(sink)
    previous = source.name
    for index in range(steps):
        produced = sink.name if index == steps - 1 else f"step_{index}_{sink.name}"
        entry = config.ensemble_scheduling.step.add()
        entry.model_name = step.name
        entry.model_version = -1
        entry.input_map[source.name] = previous
        entry.output_map[sink.name] = produced
        previous = produced
    return config
