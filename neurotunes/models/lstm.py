"""``lstm``: stacked long short-term memory layers (the classic preset: 2 x LSTM 256, dropout 0.3)."""

from __future__ import annotations

import numpy as np

from .base import register, sigmoid
from .recurrent import Cell, RecurrentArchitecture


class LSTMCell(Cell):
    """Keras' LSTM: gates in the order input, forget, candidate, output; one bias."""

    keras_layer = "LSTM"
    gates = 4

    def step(self, xz, h, c, recurrent, recurrent_bias):
        u = len(h)
        z = xz + h @ recurrent
        i_g = sigmoid(z[:u])
        f_g = sigmoid(z[u : 2 * u])
        c_hat = np.tanh(z[2 * u : 3 * u])
        o_g = sigmoid(z[3 * u :])
        c = f_g * c + i_g * c_hat
        return o_g * np.tanh(c), c


@register
class LSTM(RecurrentArchitecture):
    name = "lstm"
    description = "stacked LSTM layers (the classic: 2 x 256)"
    cell = LSTMCell()

