"""Sequence-model architectures, each built from a :class:`~neurotunes.config.ModelConfig`.

Models map token ids ``(batch, time)`` to next-token logits ``(batch, time, vocab)``
with a target at every step.  TensorFlow is imported here, on first call.

Every architecture has an exact one-token-at-a-time NumPy counterpart in
:mod:`neurotunes.generate` (recurrent state, cached attention keys, dilated
convolution buffers), so generation never calls ``predict`` in a loop.
"""

from __future__ import annotations

from ..config import RECURRENT, ModelConfig
from ..errors import BadConfig


def build_model(config: ModelConfig):
    """Build an uncompiled ``tf.keras`` model for ``config``.

    LSTM/GRU layers keep Keras' defaults (tanh, sigmoid, no recurrent dropout,
    ``reset_after=True``) so TensorFlow runs them with cuDNN kernels on a GPU.
    Dropout sits between layers instead of inside the recurrence for the same reason.
    """
    import tensorflow as tf

    tokens = tf.keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = tf.keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(tokens)
    if config.arch in RECURRENT or config.arch == "lstm_attention":
        x = _recurrent_stack(tf, config, x)
        if config.arch == "lstm_attention":
            context = tf.keras.layers.Attention(use_scale=True, name="attention")([x, x], use_causal_mask=True)
            x = tf.keras.layers.Concatenate(name="with_context")([x, context])
    elif config.arch == "cnn":
        x = _dilated_stack(tf, config, x)
    else:
        raise BadConfig(f"unknown architecture {config.arch!r}")
    logits = tf.keras.layers.Dense(config.vocab_size, name="logits")(x)
    return tf.keras.Model(tokens, logits, name=f"neurotunes_{config.arch}")


def _recurrent_stack(tf, config: ModelConfig, x):
    cells = {"lstm": tf.keras.layers.LSTM, "lstm_attention": tf.keras.layers.LSTM,
             "gru": tf.keras.layers.GRU, "rnn": tf.keras.layers.SimpleRNN}
    for i in range(config.layers):
        x = cells[config.arch](config.units, return_sequences=True, name=f"{config.arch}_{i}")(x)
        if config.dropout:
            x = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    return x


def _dilated_stack(tf, config: ModelConfig, x):
    """WaveNet-like: gated (tanh x sigmoid) causal convolutions, kernel 2, dilations 1, 2, 4, ..., residual."""
    x = tf.keras.layers.Conv1D(config.units, 1, name="input_projection")(x)
    for i in range(config.layers):
        d = 2**i
        gated = tf.keras.layers.Conv1D(2 * config.units, 2, dilation_rate=d, padding="causal", name=f"dilated_{i}")(x)
        filt, gate = tf.split(gated, 2, axis=-1)
        z = tf.keras.layers.Multiply(name=f"gate_{i}")([tf.tanh(filt), tf.sigmoid(gate)])
        z = tf.keras.layers.Conv1D(config.units, 1, name=f"residual_{i}")(z)
        if config.dropout:
            z = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(z)
        x = tf.keras.layers.Add(name=f"add_{i}")([x, z])
    return tf.keras.layers.ReLU(name="relu")(x)
