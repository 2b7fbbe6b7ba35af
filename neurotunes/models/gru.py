"""``gru``: stacked gated recurrent units (fewer weights than an LSTM, often as good)."""

from __future__ import annotations

import numpy as np

from .base import Shape, register, sigmoid
from .recurrent import Cell, RecurrentArchitecture


class GRUCell(Cell):
    """Keras 2's GRU with ``reset_after=True`` (its default, the cuDNN form): gates update, reset,
    candidate; two biases, one on the input projection and one inside the reset gate's product."""

    keras_layer = "GRU"
    gates = 3

    def bias_shape(self, units: int) -> Shape:
        return (2, self.gates * units)

    def input_bias(self, bias: np.ndarray) -> np.ndarray:
        return bias[0]

    def recurrent_bias(self, bias: np.ndarray) -> np.ndarray:
        return bias[1]

    def step(self, xz, h, c, recurrent, recurrent_bias):
        u = len(h)
        hz = h @ recurrent + recurrent_bias
        z_g = sigmoid(xz[:u] + hz[:u])
        r_g = sigmoid(xz[u : 2 * u] + hz[u : 2 * u])
        h_hat = np.tanh(xz[2 * u :] + r_g * hz[2 * u :])
        return z_g * h + (1.0 - z_g) * h_hat, c


@register
class GRU(RecurrentArchitecture):
    name = "gru"
    description = "stacked GRU layers (lighter than LSTM)"
    cell = GRUCell()

