"""``gru``: stacked gated recurrent units (fewer weights than an LSTM, often as good)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import ModelConfig
from .base import Shape, Stepper, register, sigmoid
from .recurrent import Cell, RecurrentArchitecture, RecurrentStepper


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


class GRUStepper(RecurrentStepper):
    """A stack of Keras GRU layers stepped in place: what generation, the harmonizer and the metrics run for ``gru``
    (the shipped four-voice and fiddle models).

    :meth:`GRUCell.step`'s arithmetic on buffers made once, no array allocated per layer: the update and reset
    gates are one sigmoid pass over their two blocks.  Every float32 operation is the cell's on the same
    operands (a product or sum with its operands swapped is the same float), so the logits equal
    :class:`~neurotunes.models.recurrent.RecurrentStepper`'s bit for bit (tests/test_generate.py checks it) and
    a seed gives the notes it gave before.  ``h`` is two buffers per layer taking turns: :meth:`stack_output`'s
    result is only good until the next step.
    """

    def __init__(self, cell: Cell, config: ModelConfig, weights: Sequence[np.ndarray]):
        super().__init__(cell, config, weights)
        u = self.units
        self._hz = np.empty(3 * u, dtype=np.float32)  # h @ recurrent + its bias
        self._xz = np.empty(3 * u, dtype=np.float32)  # x @ kernel + input bias (the layers above the first)
        self._gates = np.empty(2 * u, dtype=np.float32)  # update | reset
        self._spare = [np.empty(u, dtype=np.float32) for _ in self.layers]  # the next h, then the old one's
        self._keep = np.empty(u, dtype=np.float32)  # (1 - update) * candidate

    def set_state(self, state: Any) -> None:
        for mine, saved in zip(self.h, state[0]):
            mine[:] = saved

    def stack_output(self, token: int) -> np.ndarray:
        u, hz, xz, gates, keep = self.units, self._hz, self._xz, self._gates, self._keep
        z_g, r_g = gates[:u], gates[u:]
        x = self.first_projection[token]
        for li, (kernel, recurrent, input_bias, recurrent_bias) in enumerate(self.layers):
            h, new = self.h[li], self._spare[li]
            if li:
                np.matmul(x, kernel, out=xz)
                xz += input_bias
                x = xz
            np.matmul(h, recurrent, out=hz)  # hz = h @ recurrent + recurrent_bias
            hz += recurrent_bias
            np.add(x[: 2 * u], hz[: 2 * u], out=gates)  # sigmoid(xz + hz) for update and reset at once:
            gates *= 0.5  # 0.5 * (tanh(0.5 * v) + 1), models.base.sigmoid
            np.tanh(gates, out=gates)
            gates += 1.0
            gates *= 0.5
            candidate = hz[2 * u :]  # tanh(xz + reset * hz) for the candidate block
            candidate *= r_g
            candidate += x[2 * u :]
            np.tanh(candidate, out=candidate)
            np.multiply(z_g, h, out=new)  # update * h + (1 - update) * candidate
            np.subtract(1.0, z_g, out=keep)
            keep *= candidate
            new += keep
            self.h[li], self._spare[li] = new, h
            x = new
        return x


@register
class GRU(RecurrentArchitecture):
    name = "gru"
    description = "stacked GRU layers (lighter than LSTM)"
    cell = GRUCell()

    def stepper(self, config: ModelConfig, weights: Sequence[np.ndarray]) -> Stepper:
        return GRUStepper(self.cell, config, weights)

