"""What stacked recurrent architectures share: the layer stack, its weight layout and its stepper.

Each cell (LSTM, GRU, SimpleRNN) lives in its own module as a :class:`Cell`: the
Keras layer it trains with, its gate count and bias layout, and its one-step NumPy
math.  This module stacks cells into an :class:`~neurotunes.models.base.Architecture`
(embedding -> ``layers`` x cell with dropout between -> dense logits) and steps the
stack, so a new cell is a new module of about thirty lines.  Keras' LSTM, the cell
most models use, is stepped by :class:`LSTMStepper`: the same floats, bit for bit,
computed in place for speed (generation and the metrics feed every token through it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from .._quiet import import_tensorflow
from ..config import ModelConfig
from .base import Architecture, Shape, Stepper, float32_weights, keras_token_model, token_model_shapes


class Cell(ABC):
    """One recurrent cell type: its Keras layer and its exact NumPy step.

    Keras keeps a cell's weights as ``kernel (input, gates * units)``,
    ``recurrent_kernel (units, gates * units)`` and a bias (:meth:`bias_shape`).
    """

    #: The ``tf.keras.layers`` class that trains it ("LSTM", "GRU", "SimpleRNN").
    keras_layer: str
    #: Blocks of ``units`` columns in the kernels (LSTM: input, forget, cell, output = 4).
    gates: int

    def bias_shape(self, units: int) -> Shape:
        return (self.gates * units,)

    def input_bias(self, bias: np.ndarray) -> np.ndarray:
        """The part of the bias added to the input projection ``x @ kernel``."""
        return bias

    def recurrent_bias(self, bias: np.ndarray) -> np.ndarray | None:
        """The part of the bias added to ``h @ recurrent_kernel`` inside :meth:`step` (None: all of it is input bias)."""
        return None

    @abstractmethod
    def step(self, xz: np.ndarray, h: np.ndarray, c: np.ndarray, recurrent: np.ndarray,
             recurrent_bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """One time step: ``xz`` is the input projection with its bias; returns the new ``(h, c)``
        (cells without a cell state return ``c`` unchanged)."""


class RecurrentArchitecture(Architecture):
    """``layers`` stacked :attr:`cell` layers, dropout between them (outside the recurrence).

    The layers keep Keras' defaults (tanh, sigmoid, no recurrent dropout, GRU's
    ``reset_after=True``) so TensorFlow runs them with cuDNN kernels on a GPU;
    dropout sits between layers instead of inside the recurrence for the same reason.
    """

    cell: Cell

    def build(self, config: ModelConfig) -> Any:
        return keras_token_model(config, lambda x: self.keras_stack(config, x))

    def keras_stack(self, config: ModelConfig, x: Any) -> Any:
        """The recurrent layers over the embedded sequence ``x`` (layer names as in shipped models)."""
        tf = import_tensorflow()  # under the process-wide lock: see neurotunes._quiet

        layer = getattr(tf.keras.layers, self.cell.keras_layer)
        for i in range(config.layers):
            x = layer(config.units, return_sequences=True, name=f"{config.arch}_{i}")(x)
            if config.dropout:
                x = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
        return x

    def stack_shapes(self, config: ModelConfig) -> list[Shape]:
        shapes: list[Shape] = []
        width, inputs = self.cell.gates * config.units, config.embedding_dim
        for _ in range(config.layers):
            shapes += [(inputs, width), (config.units, width), self.cell.bias_shape(config.units)]
            inputs = config.units
        return shapes

    def weight_shapes(self, config: ModelConfig) -> list[Shape]:
        return token_model_shapes(config, self.stack_shapes(config), config.units)

    def stepper(self, config: ModelConfig, weights: Sequence[np.ndarray]) -> Stepper:
        if self.cell.keras_layer == "LSTM":  # Keras' LSTM math, whoever subclasses it: the in-place stepper
            return LSTMStepper(self.cell, config, weights)
        return RecurrentStepper(self.cell, config, weights)


class RecurrentStepper(Stepper):
    """The recurrent stack run one token at a time on NumPy arrays.

    ``step(token)`` feeds one token id and returns next-token logits; ``h`` and ``c``
    (one per layer) are kept on the object.  Equal within float32 rounding to
    running the Keras model over the whole prefix.  Subclasses put layers on top
    of the stack (:meth:`stack_output`) before the logits, which are the last two
    weight arrays.
    """

    def __init__(self, cell: Cell, config: ModelConfig, weights: Sequence[np.ndarray]):
        w = float32_weights(weights)
        self.cell = cell
        self.units = config.units
        self.layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
        for li in range(config.layers):
            kernel, recurrent, bias = w[1 + 3 * li : 4 + 3 * li]
            self.layers.append((kernel, recurrent, cell.input_bias(bias), cell.recurrent_bias(bias)))
        # The first layer's input projection of every token, precomputed: a row lookup per step.
        kernel, _, input_bias, _ = self.layers[0]
        self.first_projection = w[0] @ kernel + input_bias
        self.dense_w, self.dense_b = w[-2], w[-1]
        self.reset()

    def reset(self) -> None:
        self.h = [np.zeros(self.units, dtype=np.float32) for _ in self.layers]
        self.c = [np.zeros(self.units, dtype=np.float32) for _ in self.layers]

    def state(self) -> Any:
        return [h.copy() for h in self.h], [c.copy() for c in self.c]

    def set_state(self, state: Any) -> None:
        self.h = [h.copy() for h in state[0]]
        self.c = [c.copy() for c in state[1]]

    def stack_output(self, token: int) -> np.ndarray:
        """Feed ``token`` through every layer; the top layer's new ``h``."""
        cell_step, h, c = self.cell.step, self.h, self.c
        x = self.first_projection[token]
        for li, (kernel, recurrent, input_bias, recurrent_bias) in enumerate(self.layers):
            xz = x if li == 0 else x @ kernel + input_bias
            x, c[li] = cell_step(xz, h[li], c[li], recurrent, recurrent_bias)
            h[li] = x
        return x

    def step(self, token: int) -> np.ndarray:
        return self.stack_output(token) @ self.dense_w + self.dense_b


class LSTMStepper(RecurrentStepper):
    """A stack of Keras LSTM layers stepped in place: what generation and the metrics run for ``lstm``
    and everything built on it (``lstm_attention``, ``crnn_gan``'s generator).

    :class:`~neurotunes.models.lstm.LSTMCell`'s arithmetic on buffers made once: the gate
    blocks reordered (input, forget, output, candidate) so the three sigmoids are one pass
    and one ``tanh`` covers them and the candidate, no array allocated per layer.  Every
    float32 operation is the cell's, in the same order, so the logits equal
    :class:`RecurrentStepper`'s bit for bit (tests/test_generate.py checks it); moving whole
    weight columns changes no product or sum.  Its ``h`` and ``c`` are buffers that each step
    overwrites: :meth:`stack_output`'s result is only good until the next step.
    """

    def __init__(self, cell: Cell, config: ModelConfig, weights: Sequence[np.ndarray]):
        super().__init__(cell, config, weights)
        u = self.units
        order = np.r_[0 : 2 * u, 3 * u : 4 * u, 2 * u : 3 * u]  # Keras: input, forget, candidate, output
        self.first_projection = np.ascontiguousarray(self.first_projection[:, order])
        self.layers = [(np.ascontiguousarray(kernel[:, order]), np.ascontiguousarray(recurrent[:, order]),
                        input_bias[order], None) for kernel, recurrent, input_bias, _ in self.layers]
        self._hz = np.empty(4 * u, dtype=np.float32)  # h @ recurrent of the layers above the first
        # Per layer: the pre-activations z and its views: the sigmoid blocks, input, forget, output, candidate.
        self._z = []
        for _ in self.layers:
            z = np.empty(4 * u, dtype=np.float32)
            self._z.append((z, z[: 3 * u], z[:u], z[u : 2 * u], z[2 * u : 3 * u], z[3 * u :]))

    def set_state(self, state: Any) -> None:
        for mine, saved in zip(self.h + self.c, [*state[0], *state[1]]):
            mine[:] = saved  # into the buffers (a subclass may hold views of them)

    def stack_output(self, token: int) -> np.ndarray:
        x = self.first_projection[token]
        hz = self._hz
        for li, ((kernel, recurrent, input_bias, _), h, c, (z, sig, i_g, f_g, o_g, cand)) in enumerate(
                zip(self.layers, self.h, self.c, self._z)):
            if li == 0:
                np.matmul(h, recurrent, out=z)
                z += x  # xz + h @ recurrent (x: the first layer's input projection of the token)
            else:
                np.matmul(x, kernel, out=z)
                z += input_bias
                np.matmul(h, recurrent, out=hz)
                z += hz
            sig *= 0.5  # sigmoid(v) = 0.5 * (tanh(0.5 * v) + 1) (models.base.sigmoid); tanh(candidate) alike
            np.tanh(z, out=z)
            sig += 1.0
            sig *= 0.5
            c *= f_g  # c = forget * c + input * candidate
            cand *= i_g
            c += cand
            np.tanh(c, out=h)  # h = output * tanh(c)
            h *= o_g
            x = h
        return x
