"""The architecture plug-in point: what every architecture gives, and the registry that finds one by name.

An architecture describes its weights once and in three forms that must agree:

* :meth:`Architecture.build`: the ``tf.keras`` model that is trained (TensorFlow is
  imported there, on first call);
* :meth:`Architecture.weight_shapes`: the shapes of that model's ``get_weights()``,
  in order, without TensorFlow, so a bundle is checked before anything runs;
* :meth:`Architecture.stepper`: an exact NumPy :class:`Stepper` that feeds one token at
  a time and carries its state, so generation never calls ``predict`` in a loop
  (114 ms/note for ``predict`` over a 100-note window, 0.34 ms/note stepped).

A new architecture is one module: subclass :class:`Architecture`, implement the three
methods and decorate the class with :func:`register`.  Its name then passes ``ModelConfig.arch``
validation and appears in the CLI's ``--arch`` choices and the Train page.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .._quiet import import_tensorflow
from ..config import ModelConfig
from ..errors import BadConfig
from ..registry import architectures

Shape = tuple[int, ...]


class Stepper(ABC):
    """A model run one token at a time in NumPy, its state kept on the object.

    ``step(token)`` must equal the Keras model's output at the same position of the
    whole prefix (within float32 rounding): the sampler, beam search and the metrics
    all rely on it.  ``state()`` returns an opaque value that ``set_state`` restores
    (beam search forks runs with it), so it must not share arrays the stepper mutates.
    """

    @abstractmethod
    def reset(self) -> None:
        """Forget everything fed so far: the state before the first token."""

    @abstractmethod
    def state(self) -> Any:
        """A copy of the state, for :meth:`set_state`."""

    @abstractmethod
    def set_state(self, state: Any) -> None:
        """Go back to a state returned by :meth:`state`."""

    @abstractmethod
    def step(self, token: int) -> np.ndarray:
        """Feed token id ``token``; return the next token's logits, shape ``(vocab_size,)``."""


class Architecture(ABC):
    """One kind of sequence model: token ids ``(batch, time)`` -> logits ``(batch, time, vocab)``,
    a target at every step.  Subclasses set :attr:`name` and :attr:`description`; they hold no
    state (the registry makes one with no arguments), everything comes from the config."""

    #: What ``ModelConfig.arch`` says; lower-case letters, digits and _.
    name: str = ""
    #: One line for the CLI's help and the Train page.
    description: str = ""

    @abstractmethod
    def build(self, config: ModelConfig) -> Any:
        """An uncompiled ``tf.keras.Model`` for ``config`` (TensorFlow imported inside, through
        :func:`neurotunes._quiet.import_tensorflow`)."""

    @abstractmethod
    def weight_shapes(self, config: ModelConfig) -> list[Shape]:
        """Shapes of ``build(config).get_weights()``, in order, computed without TensorFlow."""

    @abstractmethod
    def stepper(self, config: ModelConfig, weights: Sequence[np.ndarray]) -> Stepper:
        """The exact one-token-at-a-time NumPy runner for ``weights`` (shapes as :meth:`weight_shapes`)."""

    def __repr__(self) -> str:
        return f"<architecture {self.name!r}: {self.description}>"


class WeightedModel(Protocol):
    """Anything holding a model config and its weights (a :class:`~neurotunes.bundle.ModelBundle`)."""

    model: ModelConfig
    weights: Sequence[np.ndarray]


def register(architecture: type[Architecture]) -> type[Architecture]:
    """Make an :class:`Architecture` subclass available under its ``name``; usable as a class decorator.

    Registering the same class twice is harmless; another class under a taken name is refused.
    """
    return architectures.add_class(architecture, Architecture)


def get(name: str) -> Architecture:
    """The registered architecture called ``name`` (BadConfig listing the known ones otherwise)."""
    return architectures.get(name)()


def descriptions() -> dict[str, str]:
    """Name -> one-line description of every registered architecture, in registration order."""
    return {name: architectures.get(name).description for name in architectures.names()}


def names() -> tuple[str, ...]:
    """Registered architecture names, in registration order (the built-ins first)."""
    return architectures.names()


def build_model(config: ModelConfig) -> Any:
    """An uncompiled ``tf.keras`` model for ``config``, by its architecture."""
    return get(config.arch).build(config)


def weight_shapes(config: ModelConfig) -> list[Shape]:
    """Weight shapes of :func:`build_model` in ``get_weights()`` order (no TensorFlow needed)."""
    return get(config.arch).weight_shapes(config)


def make_stepper(bundle: WeightedModel) -> Stepper:
    """The exact one-token-at-a-time runner for the bundle's architecture."""
    return get(bundle.model.arch).stepper(bundle.model, bundle.weights)


# --- pieces the built-in architectures share -----------------------------------------------------

def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function as an exact identity through tanh: never overflows."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def float32_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(w, dtype=np.float32) for w in weights]


def keras_token_model(config: ModelConfig, body: Callable[[Any], Any]) -> Any:
    """``tokens -> embedding -> body -> dense logits`` as a ``tf.keras.Model``.

    The frame every built-in architecture uses; ``body`` maps the embedded
    sequence ``(batch, time, embedding_dim)`` to features ``(batch, time, f)``.
    Its weights come first (embedding) and last (logits kernel and bias), as
    :func:`token_model_shapes` says.
    """
    tf = import_tensorflow()  # under the process-wide lock: see neurotunes._quiet

    tokens = tf.keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = tf.keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(tokens)
    logits = tf.keras.layers.Dense(config.vocab_size, name="logits")(body(x))
    return tf.keras.Model(tokens, logits, name=f"neurotunes_{config.arch}")


def token_model_shapes(config: ModelConfig, body: list[Shape], features: int) -> list[Shape]:
    """Weight shapes of :func:`keras_token_model`: the embedding, ``body``'s, then the logits layer."""
    return [(config.vocab_size, config.embedding_dim), *body, (features, config.vocab_size), (config.vocab_size,)]
