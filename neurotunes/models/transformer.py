"""``transformer``: a decoder-only Transformer with relative attention (Music Transformer).

Each of ``layers`` pre-LayerNorm blocks computes ``x + MHA(LN(x))`` then ``x + FFN(LN(x))``;
a final LayerNorm precedes the logits.  Sizes come from the existing :class:`ModelConfig`
fields only:

* ``d_model = units``; the token embedding (``embedding_dim`` wide) is projected to
  ``units`` by a Dense layer (``input_projection``) unless ``embedding_dim == units``;
* ``heads = max(1, units // 64)``, lowered to the nearest number that divides ``units``
  (``units = 200``: 3 does not divide it, so 2 heads of 100), ``head_dim = units // heads``;
* the feed-forward layer is ``4 * units`` wide, with ReLU;
* ``dropout`` applies to each block's attention output and feed-forward output.

There is no absolute position embedding: position enters only through relative attention
(Shaw et al. 2018; Huang et al. 2018).  Every layer learns, *per head*, a table ``E_r`` of
``context`` relative-position embeddings (``(heads, context, head_dim)``; row ``d`` is the
distance ``d = i - j`` back from the query), and::

    logit(i, j) = (q_i . k_j + q_i . E_r[i - j]) / sqrt(head_dim)    for 0 <= i - j < context

and masked otherwise.  The mask is causal *and* a sliding window of ``context`` tokens, so
the Keras model on a sequence of any length and the NumPy stepper (which keeps the keys and
values of the last ``context`` positions) compute the same thing at every position, however
long generation runs.  (Each layer looks ``context - 1`` positions back, so the stack hears
``layers * (context - 1) + 1`` tokens; the cached keys and values carry the deeper history.)
Training uses ``TrainConfig.sequence_length`` chunks as every architecture does; with
``sequence_length >= context`` the whole window is trained (with a shorter chunk the distances
from ``sequence_length`` up keep their initial embeddings, yet the stepper still attends that
far back).

The relative term is computed with Huang et al.'s skewing trick: ``q @ E^T`` over the
distances reordered from ``T-1`` down to 0 (zero rows beyond ``context``), padded by one
column and reshaped, which puts ``q_i . E_r[i - j]`` at ``(i, j)`` without a gather and
without a ``(T, T, head_dim)`` tensor.  Memory is ``O(batch * heads * T^2)``: one training step
of units 256, 4 layers, context 1024 on a 16 x 1024 batch peaked at 3.6 GB (CPU, TF 2.15).
Measured on the shared 2-core CPU: units 256 / 4 layers / context 512 trains 440 tokens/s on
16 x 512 batches (lstm_attention 2 x 256 on 32 x 128: 3,200-3,300 tokens/s, same load), and
the stepper takes 1.6-2.8 ms per token with a full 512-token cache (one BLAS thread; 1.3 ms on
two idle Xeon cores, where lstm_attention's takes 0.18 ms).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from .._quiet import import_tensorflow
from ..config import ModelConfig
from .base import Architecture, Shape, Stepper, float32_weights, keras_token_model, register, token_model_shapes

#: Width of one attention head that ``heads = units // HEAD_WIDTH`` aims at.
HEAD_WIDTH = 64
#: Feed-forward width as a multiple of ``units``.
FFN_FACTOR = 4
#: LayerNorm's variance epsilon (Keras and the stepper use the same).
LN_EPSILON = 1e-5
#: Added to the logits of masked positions; exp() of it is exactly 0 in float32.
MASKED = -1e9
#: Arrays per decoder block in ``get_weights()``: LN1 (2), QKV (2), output (2), E_r (1), LN2 (2), FFN (4).
BLOCK_ARRAYS = 13


def heads_for(units: int) -> int:
    """``max(1, units // 64)`` heads, lowered until it divides ``units`` (every head equally wide)."""
    heads = max(1, units // HEAD_WIDTH)
    while units % heads:
        heads -= 1
    return heads


@register
class Transformer(Architecture):
    """Decoder-only Transformer with per-head relative attention over the last ``context`` tokens.

    ``units`` is d_model; ``heads = max(1, units // 64)`` (lowered to a divisor of ``units``);
    the feed-forward layer is ``4 * units`` wide; ``layers`` pre-LayerNorm blocks, a final
    LayerNorm; ``embedding_dim`` is projected to ``units`` when they differ.  See the module's
    docstring for the attention formula.
    """

    name = "transformer"
    description = "Transformer decoder with relative attention (Music Transformer) over the last `context` tokens"

    def build(self, config: ModelConfig) -> Any:
        block_class, norm_class = _keras_layers()

        def body(x):
            tf = import_tensorflow()  # under the process-wide lock: see neurotunes._quiet

            if config.embedding_dim != config.units:
                x = tf.keras.layers.Dense(config.units, name="input_projection")(x)
            for i in range(config.layers):
                x = block_class(config.units, heads_for(config.units), config.context, config.dropout,
                                name=f"decoder_{i}")(x)
            return norm_class(name="final_norm")(x)

        return keras_token_model(config, body)

    def weight_shapes(self, config: ModelConfig) -> list[Shape]:
        u, heads = config.units, heads_for(config.units)
        body: list[Shape] = []
        if config.embedding_dim != u:
            body += [(config.embedding_dim, u), (u,)]
        for _ in range(config.layers):
            body += [(u,), (u,),                                     # LayerNorm before attention
                     (u, 3 * u), (3 * u,),                           # queries, keys, values
                     (u, u), (u,),                                   # attention output
                     (heads, config.context, u // heads),            # relative-position embeddings E_r
                     (u,), (u,),                                     # LayerNorm before the feed-forward
                     (u, FFN_FACTOR * u), (FFN_FACTOR * u,), (FFN_FACTOR * u, u), (u,)]
        body += [(u,), (u,)]  # final LayerNorm
        return token_model_shapes(config, body, u)

    def stepper(self, config: ModelConfig, weights: Sequence[np.ndarray]) -> Stepper:
        return TransformerStepper(config, weights)


@functools.cache
def _keras_layers() -> tuple[type, type]:
    """The Keras layer classes (made once, on first build, since they subclass a TensorFlow class)."""
    tf = import_tensorflow()  # under the process-wide lock: see neurotunes._quiet

    def layer_norm(x, gamma, beta):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + LN_EPSILON) * gamma + beta

    class RelativeDecoderBlock(tf.keras.layers.Layer):
        """One pre-LayerNorm block with relative multi-head attention and a sliding causal window.

        Its weights are created with ``add_weight`` only, in the order
        :meth:`Transformer.weight_shapes` lists them (dropout layers hold none).
        """

        def __init__(self, units: int, heads: int, context: int, dropout: float = 0.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.heads, self.context, self.rate = units, heads, context, dropout
            self.head_dim = units // heads
            self.attention_dropout = tf.keras.layers.Dropout(dropout)
            self.ffn_dropout = tf.keras.layers.Dropout(dropout)

        def build(self, input_shape):
            u, h, hd = self.units, self.heads, self.head_dim
            ones, zeros, glorot = "ones", "zeros", "glorot_uniform"
            self.ln1_gamma = self.add_weight(name="ln1_gamma", shape=(u,), initializer=ones)
            self.ln1_beta = self.add_weight(name="ln1_beta", shape=(u,), initializer=zeros)
            self.qkv_kernel = self.add_weight(name="qkv_kernel", shape=(u, 3 * u), initializer=glorot)
            self.qkv_bias = self.add_weight(name="qkv_bias", shape=(3 * u,), initializer=zeros)
            self.out_kernel = self.add_weight(name="out_kernel", shape=(u, u), initializer=glorot)
            self.out_bias = self.add_weight(name="out_bias", shape=(u,), initializer=zeros)
            self.relative = self.add_weight(
                name="relative_embeddings", shape=(h, self.context, hd),
                initializer=tf.keras.initializers.RandomNormal(stddev=hd ** -0.5))
            self.ln2_gamma = self.add_weight(name="ln2_gamma", shape=(u,), initializer=ones)
            self.ln2_beta = self.add_weight(name="ln2_beta", shape=(u,), initializer=zeros)
            self.ffn_in_kernel = self.add_weight(name="ffn_in_kernel", shape=(u, FFN_FACTOR * u), initializer=glorot)
            self.ffn_in_bias = self.add_weight(name="ffn_in_bias", shape=(FFN_FACTOR * u,), initializer=zeros)
            self.ffn_out_kernel = self.add_weight(name="ffn_out_kernel", shape=(FFN_FACTOR * u, u),
                                                  initializer=glorot)
            self.ffn_out_bias = self.add_weight(name="ffn_out_bias", shape=(u,), initializer=zeros)
            super().build(input_shape)

        def call(self, x, training=None):
            batch, length = tf.shape(x)[0], tf.shape(x)[1]
            h, hd = self.heads, self.head_dim

            z = layer_norm(x, self.ln1_gamma, self.ln1_beta)
            qkv = tf.einsum("btu,uv->btv", z, self.qkv_kernel) + self.qkv_bias
            qkv = tf.transpose(tf.reshape(qkv, [batch, length, 3, h, hd]), [2, 0, 3, 1, 4])  # (3, B, H, T, hd)
            q, k, v = qkv[0] * (hd ** -0.5), qkv[1], qkv[2]

            logits = tf.matmul(q, k, transpose_b=True) + self.relative_logits(q, length)  # (B, H, T, T)
            distance = tf.range(length)[:, None] - tf.range(length)[None, :]
            allowed = (distance >= 0) & (distance < self.context)
            logits = tf.where(allowed, logits, MASKED)
            attended = tf.matmul(tf.nn.softmax(logits, axis=-1), v)  # (B, H, T, hd)
            attended = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batch, length, self.units])
            out = tf.einsum("btu,uv->btv", attended, self.out_kernel) + self.out_bias
            x = x + self.attention_dropout(out, training=training)

            z = layer_norm(x, self.ln2_gamma, self.ln2_beta)
            z = tf.nn.relu(tf.einsum("btu,uv->btv", z, self.ffn_in_kernel) + self.ffn_in_bias)
            z = tf.einsum("btv,vu->btu", z, self.ffn_out_kernel) + self.ffn_out_bias
            return x + self.ffn_dropout(z, training=training)

        def relative_logits(self, q, length):
            """``(B, H, T, T)`` holding ``q_i . E_r[i - j]`` wherever ``0 <= i - j < T`` (Huang et al.'s skew)."""
            batch = tf.shape(q)[0]
            # Rows r = 0..T-1 stand for the distance T-1-r: E_r's first min(T, context) rows, zeros past the
            # window (those logits are masked), reversed.
            table = self.relative[:, : tf.minimum(length, self.context)]
            table = tf.pad(table, [[0, 0], [0, tf.maximum(length - self.context, 0)], [0, 0]])
            by_offset = tf.matmul(q, tf.reverse(table, axis=[1]), transpose_b=True)  # (B, H, T, T): [i, r]
            # One zero column in front, then reading the buffer as T+1 rows of T moves row i's
            # entries i places left: [i, r] lands at column j = r - (T-1) + i, i.e. r = T-1-(i-j).
            padded = tf.pad(by_offset, [[0, 0], [0, 0], [0, 0], [1, 0]])
            skewed = tf.reshape(padded, [batch, self.heads, length + 1, length])
            return skewed[:, :, 1:, :]

        def get_config(self):
            return {**super().get_config(), "units": self.units, "heads": self.heads, "context": self.context,
                    "dropout": self.rate}

    class FinalNorm(tf.keras.layers.Layer):
        """LayerNorm with the blocks' epsilon and arithmetic (gamma, then beta)."""

        def build(self, input_shape):
            u = int(input_shape[-1])
            self.gamma = self.add_weight(name="gamma", shape=(u,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(u,), initializer="zeros")
            super().build(input_shape)

        def call(self, x):
            return layer_norm(x, self.gamma, self.beta)

    return RelativeDecoderBlock, FinalNorm


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    centred = x - x.mean()
    return centred / np.sqrt((centred * centred).mean() + np.float32(LN_EPSILON)) * gamma + beta


class TransformerStepper(Stepper):
    """The Transformer run one token at a time: each layer keeps the keys and values of the last
    ``context`` positions in a ring buffer ``(heads, context, head_dim)``; slot ``t % context`` holds
    position ``t``.  A step costs ``O(context * units * layers)`` (plus the dense layers).

    :meth:`state` and :meth:`set_state` copy the caches (``2 * layers * context * units`` floats,
    4 MB at units 256, layers 4, context 512).  Sharing them copy-on-write instead made no
    measurable difference to beam search's restore-step-snapshot pattern on the shared 2-core
    test machine (5-8 ms per beam per token either way, under load), so the plain copy stays.
    """

    def __init__(self, config: ModelConfig, weights: Sequence[np.ndarray]):
        w = float32_weights(weights)
        self.units, self.context = config.units, config.context
        self.heads = heads_for(config.units)
        self.head_dim = self.units // self.heads
        i = 1
        self.embedded = w[0]
        if config.embedding_dim != config.units:  # the projection of every token, precomputed
            self.embedded, i = w[0] @ w[1] + w[2], 3
        self.scale = np.float32(self.head_dim ** -0.5)
        self.blocks = [tuple(w[i + BLOCK_ARRAYS * b: i + BLOCK_ARRAYS * (b + 1)]) for b in range(config.layers)]
        self.final_gamma, self.final_beta, self.dense_w, self.dense_b = w[-4:]
        self.reset()

    def reset(self) -> None:
        shape = (self.heads, self.context, self.head_dim)
        self.keys = [np.zeros(shape, dtype=np.float32) for _ in self.blocks]
        self.values = [np.zeros(shape, dtype=np.float32) for _ in self.blocks]
        self.t = 0

    def state(self) -> Any:
        return [k.copy() for k in self.keys], [v.copy() for v in self.values], self.t

    def set_state(self, state: Any) -> None:
        self.keys = [k.copy() for k in state[0]]
        self.values = [v.copy() for v in state[1]]
        self.t = state[2]

    def step(self, token: int) -> np.ndarray:
        u, heads, hd = self.units, self.heads, self.head_dim
        slot = self.t % self.context
        filled = min(self.t + 1, self.context)  # slots 0..filled-1 hold the window (the newest at `slot`)
        distance = (slot - np.arange(filled)) % self.context  # how far back each slot's position lies
        x = self.embedded[token]
        for (ln1_g, ln1_b, qkv_k, qkv_b, out_k, out_b, relative, ln2_g, ln2_b,
             ffn_in_k, ffn_in_b, ffn_out_k, ffn_out_b), keys, values in zip(self.blocks, self.keys, self.values):
            qkv = _layer_norm(x, ln1_g, ln1_b) @ qkv_k + qkv_b
            q = qkv[:u].reshape(heads, hd) * self.scale
            keys[:, slot] = qkv[u: 2 * u].reshape(heads, hd)
            values[:, slot] = qkv[2 * u:].reshape(heads, hd)
            q_col = q[:, :, None]
            by_distance = (relative[:, :filled] @ q_col)[:, :, 0]  # q . E_r[d] for d = 0..filled-1
            logits = (keys[:, :filled] @ q_col)[:, :, 0] + by_distance[:, distance]  # (heads, filled)
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            attended = (weights[:, None, :] @ values[:, :filled])[:, 0].reshape(u)
            x = x + attended @ out_k + out_b
            hidden = np.maximum(_layer_norm(x, ln2_g, ln2_b) @ ffn_in_k + ffn_in_b, 0.0)
            x = x + hidden @ ffn_out_k + ffn_out_b
        self.t += 1
        return _layer_norm(x, self.final_gamma, self.final_beta) @ self.dense_w + self.dense_b
