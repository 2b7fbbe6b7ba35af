"""A new architecture through the plug-in point alone: this file is its whole module.

``BagOfTokens`` (the mean of the last four token embeddings -> a ReLU layer -> logits)
registers itself below and, with no other file touched, is offered by the CLI, trains
one epoch there on a few pieces, saves and loads as a bundle with its content hash,
steps exactly like its Keras model and generates reproducible music.
"""

import numpy as np
import pytest

from neurotunes import cli, models
from neurotunes.bundle import ModelBundle
from neurotunes.config import GenerateConfig
from neurotunes.generate import generate
from neurotunes.midi_io import write_midi
from neurotunes.models import Architecture, Stepper, register
from tests.conftest import make_score

WINDOW = 4  # tokens the toy remembers


@register
class BagOfTokens(Architecture):
    name = "bag_of_tokens"
    description = f"the mean of the last {WINDOW} token embeddings, one ReLU layer (a test's toy)"

    def build(self, config):
        import tensorflow as tf

        tokens = tf.keras.Input(shape=(None,), dtype="int32")
        x = tf.keras.layers.Embedding(config.vocab_size, config.embedding_dim)(tokens)
        x = tf.keras.layers.ZeroPadding1D((WINDOW - 1, 0))(x)  # causal: zeros stand before the first token
        x = tf.keras.layers.AveragePooling1D(pool_size=WINDOW, strides=1)(x)
        x = tf.keras.layers.Dense(config.units, activation="relu")(x)
        return tf.keras.Model(tokens, tf.keras.layers.Dense(config.vocab_size)(x))

    def weight_shapes(self, config):
        v, e, u = config.vocab_size, config.embedding_dim, config.units
        return [(v, e), (e, u), (u,), (u, v), (v,)]

    def stepper(self, config, weights):
        return BagStepper(config, weights)


class BagStepper(Stepper):
    def __init__(self, config, weights):
        self.embedding, self.hidden_w, self.hidden_b, self.out_w, self.out_b = weights
        self.reset()

    def reset(self):
        self.window = np.zeros((WINDOW, self.embedding.shape[1]), dtype=np.float32)
        self.t = 0

    def state(self):
        return self.window.copy(), self.t

    def set_state(self, state):
        self.window, self.t = state[0].copy(), state[1]

    def step(self, token):
        self.window[self.t % WINDOW] = self.embedding[token]
        self.t += 1
        hidden = np.maximum(self.window.mean(axis=0) @ self.hidden_w + self.hidden_b, 0.0)
        return hidden @ self.out_w + self.out_b


@pytest.fixture(scope="module")
def toy_bundle(tmp_path_factory):
    """The toy trained for one epoch by the CLI on six generated pieces, loaded back from its folder."""
    folder = tmp_path_factory.mktemp("toy")
    pieces = []
    for k in range(1, 7):
        score = make_score(pitches=tuple(60 + ((i * k) % 12) for i in range(24)), step=0.25, dur=0.25)
        pieces.append(str(write_midi(score, folder / f"piece{k}.mid")))
    out = folder / "bag"
    code = cli.main(["train", "--files", *pieces, "--arch", "bag_of_tokens", "--units", "16", "--embedding", "8",
                     "--layers", "1", "--dropout", "0", "--epochs", "1", "--batch-size", "4",
                     "--sequence-length", "16", "--patience", "0", "--validation", "0.2", "-o", str(out)])
    assert code == 0
    return ModelBundle.load(out)


def test_the_toy_is_offered_where_architectures_are_listed(capsys):
    assert models.names()[-1] == "bag_of_tokens"
    assert models.descriptions()["bag_of_tokens"].startswith("the mean of the last 4")
    assert cli.build_parser().parse_args(["train", "--arch", "bag_of_tokens", "-o", "out"]).arch == "bag_of_tokens"
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "bag_of_tokens:" in capsys.readouterr().out


def test_the_toy_trains_in_the_cli_and_loads_as_a_bundle(toy_bundle):
    assert toy_bundle.model.arch == "bag_of_tokens"
    again = ModelBundle.from_zip(toy_bundle.to_zip())
    assert again.hash == toy_bundle.hash
    assert all(np.array_equal(a, b) for a, b in zip(again.weights, toy_bundle.weights))


def test_the_toy_steps_exactly_like_its_keras_model(toy_bundle):
    model = models.build_model(toy_bundle.model)
    model.set_weights(list(toy_bundle.weights))
    ids = np.random.default_rng(5).integers(0, len(toy_bundle.vocab), 30)
    reference = model(ids[None, :], training=False)[0].numpy()
    stepper = models.make_stepper(toy_bundle)
    assert np.abs(reference - np.stack([stepper.step(int(t)) for t in ids])).max() < 1e-4


def test_the_toy_generates_reproducibly(toy_bundle):
    a = generate(toy_bundle, GenerateConfig(length=12, seed=3))
    b = generate(toy_bundle, GenerateConfig(length=12, seed=3))
    assert len(a) == 12 and a.notes == b.notes
    assert a.metadata["recipe"]["model_hash"] == toy_bundle.hash
    beam = generate(toy_bundle, GenerateConfig(length=6, beam_width=3))  # forks the stepper's state
    assert len(beam) == 6
