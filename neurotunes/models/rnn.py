"""``rnn``: stacked plain (Elman) recurrent layers, Keras' SimpleRNN: the baseline the gated cells beat."""

from __future__ import annotations

import numpy as np

from .base import register
from .recurrent import Cell, RecurrentArchitecture


class SimpleRNNCell(Cell):
    """``h = tanh(x @ kernel + bias + h @ recurrent_kernel)``."""

    keras_layer = "SimpleRNN"
    gates = 1

    def step(self, xz, h, c, recurrent, recurrent_bias):
        return np.tanh(xz + h @ recurrent), c


@register
class SimpleRNN(RecurrentArchitecture):
    name = "rnn"
    description = "stacked SimpleRNN layers (the plain baseline)"
    cell = SimpleRNNCell()

