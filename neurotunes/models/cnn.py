"""``cnn``: a WaveNet-like stack of gated, dilated, causal convolutions.

Kernel 2, dilations 1, 2, 4, ... (``layers`` of them: 7 layers see 128 steps back),
``tanh(filter) * sigmoid(gate)`` with a residual connection around each layer.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._quiet import import_tensorflow
from ..config import ModelConfig
from .base import (Architecture, Shape, Stepper, float32_weights, keras_token_model, register, sigmoid,
                   token_model_shapes)


@register
class DilatedCNN(Architecture):
    name = "cnn"
    description = "dilated causal convolutions, WaveNet-like (dilations 1, 2, 4, ... per layer)"

    def build(self, config: ModelConfig) -> Any:
        def body(x):
            tf = import_tensorflow()  # under the process-wide lock: see neurotunes._quiet

            x = tf.keras.layers.Conv1D(config.units, 1, name="input_projection")(x)
            for i in range(config.layers):
                gated = tf.keras.layers.Conv1D(2 * config.units, 2, dilation_rate=2**i, padding="causal",
                                               name=f"dilated_{i}")(x)
                filt, gate = tf.split(gated, 2, axis=-1)
                z = tf.keras.layers.Multiply(name=f"gate_{i}")([tf.tanh(filt), tf.sigmoid(gate)])
                z = tf.keras.layers.Conv1D(config.units, 1, name=f"residual_{i}")(z)
                if config.dropout:
                    z = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(z)
                x = tf.keras.layers.Add(name=f"add_{i}")([x, z])
            return tf.keras.layers.ReLU(name="relu")(x)

        return keras_token_model(config, body)

    def weight_shapes(self, config: ModelConfig) -> list[Shape]:
        u = config.units
        body: list[Shape] = [(1, config.embedding_dim, u), (u,)]
        for _ in range(config.layers):
            body += [(2, u, 2 * u), (2 * u,), (1, u, u), (u,)]
        return token_model_shapes(config, body, u)

    def stepper(self, config: ModelConfig, weights: Sequence[np.ndarray]) -> Stepper:
        return ConvStepper(config, weights)


class ConvStepper(Stepper):
    """The dilated causal CNN run one token at a time: each layer keeps a ring buffer
    of its past inputs (as deep as its dilation), so a step costs one pass per layer."""

    def __init__(self, config: ModelConfig, weights: Sequence[np.ndarray]):
        w = float32_weights(weights)
        self.units = config.units
        self.projection = w[0] @ w[1][0] + w[2]  # embedding -> input projection, per token
        self.layers = []
        i = 3
        for layer in range(config.layers):
            dilated_k, dilated_b, res_k, res_b = w[i], w[i + 1], w[i + 2][0], w[i + 3]
            self.layers.append((2**layer, dilated_k[0], dilated_k[1], dilated_b, res_k, res_b))
            i += 4
        self.dense_w, self.dense_b = w[i], w[i + 1]
        self.reset()

    def reset(self) -> None:
        self.buffers = [np.zeros((d, self.units), dtype=np.float32) for d, *_ in self.layers]
        self.t = 0

    def state(self) -> Any:
        return [b.copy() for b in self.buffers], self.t

    def set_state(self, state: Any) -> None:
        self.buffers = [b.copy() for b in state[0]]
        self.t = state[1]

    def step(self, token: int) -> np.ndarray:
        u = self.units
        x = self.projection[token]
        for buffer, (d, k_past, k_now, bias, res_k, res_b) in zip(self.buffers, self.layers):
            slot = self.t % d
            past = buffer[slot]  # this layer's input d steps ago (zeros before the start: causal padding)
            gated = past @ k_past + x @ k_now + bias
            z = np.tanh(gated[:u]) * sigmoid(gated[u:])
            buffer[slot] = x
            x = x + z @ res_k + res_b
        self.t += 1
        return np.maximum(x, 0.0) @ self.dense_w + self.dense_b

