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
from .recurrent import Cell, LSTMStepper


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


class AttentionStepper(LSTMStepper):
    """The LSTM stack stepped in place (:class:`LSTMStepper`), plus a cache of the top layer's past
    outputs (the attention's keys, which are also its values), at most ``context`` deep.

    Written for speed (generation and the metrics step every token through it): the keys
    live in a buffer twice ``context`` rows deep, read as one contiguous slice and moved
    back once every ``context`` steps instead of stacked anew at every step, and the top
    layer's output and its attention context are written side by side into the logits'
    input.  The floats are those of the plain formulas, bit for bit (tests/test_generate.py).
    """

    def __init__(self, cell: Cell, config: ModelConfig, weights: Sequence[np.ndarray]):
        self.context = config.context  # before super().__init__, whose reset() sizes the key cache with it
        super().__init__(cell, config, weights)
        self.scale = float(np.asarray(weights[-3], dtype=np.float32))

    def reset(self) -> None:
        super().reset()
        u = self.units
        # The logits read [top output, attention context]: the top layer's h lives in the first half.
        self._features = np.zeros(2 * u, dtype=np.float32)
        self._context_out = self._features[u:]
        self.h[-1] = self._features[:u]
        self._keys = np.zeros((2 * self.context, u), dtype=np.float32)
        self._first = self._end = 0  # the cached outputs are self._keys[self._first:self._end], oldest first

    def state(self) -> Any:
        return (*super().state(), self._keys[self._first:self._end].copy())

    def set_state(self, state: Any) -> None:
        super().set_state(state)
        memory = np.asarray(state[2], dtype=np.float32).reshape(-1, self.units)
        self._keys[: len(memory)] = memory
        self._first, self._end = 0, len(memory)

    def step(self, token: int) -> np.ndarray:
        x = self.stack_output(token)
        keys = self._keys
        if self._end == len(keys):  # full: keep the newest context - 1 outputs, at the front
            keep = self.context - 1
            keys[:keep] = keys[self._end - keep : self._end]
            self._first, self._end = 0, keep
        keys[self._end] = x
        self._end += 1
        self._first = max(self._first, self._end - self.context)
        keys = keys[self._first : self._end]
        scores = keys @ x  # softmax(scale * keys . x) over the cached outputs, then their weighted sum
        scores *= self.scale
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        np.matmul(scores, keys, out=self._context_out)  # the context, beside x in self._features
        logits = self._features @ self.dense_w
        logits += self.dense_b
        return logits
