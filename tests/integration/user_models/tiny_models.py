"""A user's own models, outside our packages: the exporter finds them by import path."""

import torch
from torch import nn


class TinyMLP(nn.Module):
    """Linear -> GELU -> Linear over [batch, features]."""

    def __init__(self, features: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.GELU(), nn.Linear(hidden, 4))

    def forward(self, x):
        return self.net(x)


def tiny_conv(channels: int = 3) -> nn.Module:
    """A factory function works as well as a class."""
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))


class NoisyModel(nn.Module):
    """Adds fresh noise on every call: it exports, but no run can match PyTorch."""

    def forward(self, x):
        return x + torch.rand_like(x)
