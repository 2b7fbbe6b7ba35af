"""``lstm_attention``: the LSTM stack with causal dot-product self-attention over its outputs.

Each step's top LSTM output attends to the last ``context`` outputs (itself included),
and the logits read the output and that context side by side.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._quiet import import_tensorflow
from ..config import ModelConfig
from .base import Shape, Stepper, keras_token_model, register, token_model_shapes
from .lstm import LSTM
from .recurrent import Cell, RecurrentStepper


@register
class LSTMAttention(LSTM):
    name = "lstm_attention"
    description = "LSTM layers with causal self-attention over the last `context` steps"

    def build(self, config: ModelConfig) -> Any:
        def body(x):
            tf = import_tensorflow()  # under the process-wide lock: see neurotunes._quiet

            x = self.keras_stack(config, x)
            context = tf.keras.layers.Attention(use_scale=True, name="attention")([x, x], use_causal_mask=True)
            return tf.keras.layers.Concatenate(name="with_context")([x, context])

        return keras_token_model(config, body)

    def weight_shapes(self, config: ModelConfig) -> list[Shape]:
        # () is the attention's learned scale; the logits read [output, context].
        return token_model_shapes(config, [*self.stack_shapes(config), ()], 2 * config.units)

    def stepper(self, config: ModelConfig, weights: Sequence[np.ndarray]) -> Stepper:
        return AttentionStepper(self.cell, config, weights)


class AttentionStepper(RecurrentStepper):
    """The LSTM stack stepped as usual, plus a cache of the top layer's past outputs
    (the attention's keys, which are also its values), at most ``context`` deep."""

    def __init__(self, cell: Cell, config: ModelConfig, weights: Sequence[np.ndarray]):
        super().__init__(cell, config, weights)
        self.context = config.context
        self.scale = float(np.asarray(weights[-3], dtype=np.float32))

    def reset(self) -> None:
        super().reset()
        self.memory: list[np.ndarray] = []

    def state(self) -> Any:
        return (*super().state(), list(self.memory))

    def set_state(self, state: Any) -> None:
        super().set_state(state)
        self.memory = list(state[2])

    def step(self, token: int) -> np.ndarray:
        x = self.stack_output(token)
        self.memory.append(x)
        del self.memory[: -self.context]
        keys = np.stack(self.memory)
        scores = self.scale * (keys @ x)
        weights = np.exp(scores - scores.max())
        x = np.concatenate([x, (weights / weights.sum()) @ keys])
        return x @ self.dense_w + self.dense_b

