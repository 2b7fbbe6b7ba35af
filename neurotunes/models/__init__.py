"""Sequence-model architectures as plug-ins, each built from a :class:`~neurotunes.config.ModelConfig`.

Models map token ids ``(batch, time)`` to next-token logits ``(batch, time, vocab)``
with a target at every step.  Each architecture is one module here that registers
an :class:`Architecture`: its ``tf.keras`` builder (TensorFlow imported on first
build), its weight shapes (no TensorFlow) and its exact one-token-at-a-time NumPy
:class:`Stepper` (recurrent state, cached attention keys, dilated convolution
buffers), so generation never calls ``predict`` in a loop.  The bundle reader, the
trainer and the generator ask this registry; nothing else switches on ``arch``.

Built in, in this order: ``lstm``, ``gru``, ``rnn`` (the three cells share the stack
in :mod:`.recurrent`), ``lstm_attention``, ``cnn`` and ``transformer`` (relative attention
over the last ``context`` tokens, stepped with cached keys and values), then ``crnn_gan`` (the
``lstm`` stack trained against a bidirectional-LSTM critic, C-RNN-GAN).  A new architecture is a new
module whose :class:`Architecture` subclass is decorated with :func:`register`;
import it before a config names it.
"""

from __future__ import annotations

from . import lstm, gru, rnn, lstm_attention, cnn, transformer, crnn_gan  # noqa: F401, I001  (each registers itself, in this order)
from .base import (Architecture, Stepper, build_model, descriptions, get, make_stepper, names, register,
                   weight_shapes)

__all__ = ["Architecture", "Stepper", "build_model", "descriptions", "get", "make_stepper", "names", "register",
           "weight_shapes"]
