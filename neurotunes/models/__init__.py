"""Sequence-model architectures, each built from a :class:`~neurotunes.config.ModelConfig`.

Models map token ids ``(batch, time)`` to next-token logits ``(batch, time, vocab)``
with a target at every step.  TensorFlow is imported here, on first call.
"""

from __future__ import annotations

from ..config import ModelConfig
from ..errors import BadConfig


def build_model(config: ModelConfig):
    """Build an uncompiled ``tf.keras`` model for ``config``.

    LSTM/GRU layers keep Keras' defaults (tanh, sigmoid, no recurrent dropout,
    ``reset_after=True``) so TensorFlow runs them with cuDNN kernels on a GPU.
    Dropout sits between layers instead of inside the recurrence for the same reason.
    """
    import tensorflow as tf

    if config.arch not in ("lstm", "gru"):
        raise BadConfig(f"unknown architecture {config.arch!r}")
    layer_cls = tf.keras.layers.LSTM if config.arch == "lstm" else tf.keras.layers.GRU
    tokens = tf.keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = tf.keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(tokens)
    for i in range(config.layers):
        x = layer_cls(config.units, return_sequences=True, name=f"{config.arch}_{i}")(x)
        if config.dropout:
            x = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    logits = tf.keras.layers.Dense(config.vocab_size, name="logits")(x)
    return tf.keras.Model(tokens, logits, name=f"neurotunes_{config.arch}")
