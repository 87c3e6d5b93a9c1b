"""The built-in PyTorch models (one definition each) and their example inputs.

Sizes come from settings so tests can shrink them; the defaults in `.env` are the
seed's: full-HD images for the CNN, [32, 2048] token blocks for the Transformer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import stack_settings


class SimpleCNN(nn.Module):
    """Three 3x3 convolutions (3 -> 3 channels, padding 1), each followed by ReLU."""

    def __init__(self, channels: int = 3, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Conv2d(channels, channels, kernel_size=3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


class SimpleTransformer(nn.Module):
    """`nn.TransformerEncoder` over [batch, seq, d_model], batch first, output the same shape."""

    def __init__(self, d_model: int = 2048, nhead: int = 2, num_layers: int = 2) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=d_model, nhead=nhead, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=num_layers)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(tokens)


@dataclass(frozen=True)
class ModelSpec:
    """What the exporter needs to know about one PyTorch model."""

    name: str  # the Triton model name
    build: Callable[[], nn.Module]
    sample_shape: tuple[int, ...]  # one sample, without the batch dimension
    input_name: str = "input"
    output_name: str = "output"
    # Settings that change the exported graph: part of the idempotency hash.
    settings: tuple[tuple[str, int], ...] = ()

    def example_input(self, batch_size: int, seed: int = 0) -> torch.Tensor:
        """A reproducible random batch of the model's input."""
        generator = torch.Generator().manual_seed(seed)
        return torch.randn((batch_size, *self.sample_shape), generator=generator)


def _seeded(module: nn.Module) -> nn.Module:
    return module.eval()


def builtin_models() -> dict[str, ModelSpec]:
    """The built-in models, sized from the current settings."""
    height = stack_settings.get_int("CNN_HEIGHT")
    width = stack_settings.get_int("CNN_WIDTH")
    seq_len = stack_settings.get_int("TRANSFORMER_SEQ_LEN")
    d_model = stack_settings.get_int("TRANSFORMER_D_MODEL")
    heads = stack_settings.get_int("TRANSFORMER_HEADS")
    layers = stack_settings.get_int("TRANSFORMER_LAYERS")

    def build_cnn() -> nn.Module:
        torch.manual_seed(0)  # same weights on every export, so re-runs are reproducible
        return _seeded(SimpleCNN())

    def build_transformer() -> nn.Module:
        torch.manual_seed(0)
        return _seeded(SimpleTransformer(d_model=d_model, nhead=heads, num_layers=layers))

    return {
        "simple_cnn": ModelSpec(
            name="simple_cnn",
            build=build_cnn,
            sample_shape=(3, height, width),
            # The seed's names: a client written from the seed's code or blog sends these.
            input_name="input_image",
            output_name="output_image",
            settings=(("CNN_HEIGHT", height), ("CNN_WIDTH", width)),
        ),
        "simple_transformer": ModelSpec(
            name="simple_transformer",
            build=build_transformer,
            sample_shape=(seq_len, d_model),
            settings=(
                ("TRANSFORMER_SEQ_LEN", seq_len),
                ("TRANSFORMER_D_MODEL", d_model),
                ("TRANSFORMER_HEADS", heads),
                ("TRANSFORMER_LAYERS", layers),
            ),
        ),
    }
