"""Architectures: each registered one's three descriptions of its weights agree, and the registry's rules."""

import subprocess
import sys

import numpy as np
import pytest

from neurotunes import models
from neurotunes.bundle import ModelBundle
from neurotunes.config import ModelConfig
from neurotunes.encodings import EncodingConfig, encoding_for
from neurotunes.errors import BadConfig, BadModel
from neurotunes.models.lstm import LSTM
from tests.conftest import ROOT

ENCODING = EncodingConfig()
VOCAB = encoding_for(ENCODING).vocabulary()


def _random_weights(cfg: ModelConfig, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple((rng.standard_normal(s) * 0.3).astype(np.float32) for s in models.weight_shapes(cfg))


def test_stepper_matches_keras_on_the_same_prefix(tiny_bundle):
    """Stepping with carried state gives the model's own probabilities (within 1e-4)."""
    import tensorflow as tf

    bundle, _ = tiny_bundle
    model = models.build_model(bundle.model)
    model.set_weights(list(bundle.weights))
    ids = np.random.default_rng(1).integers(0, len(bundle.vocab), 40)
    reference = tf.nn.softmax(model(ids[None, :], training=False)[0]).numpy()
    stepper = models.make_stepper(bundle)
    stepped = np.stack([tf.nn.softmax(stepper.step(int(t))).numpy() for t in ids])
    assert np.abs(reference - stepped).max() < 1e-4


@pytest.mark.parametrize("arch", models.names())
def test_every_architecture_steps_exactly(arch):
    """Each architecture's NumPy stepper (state, cached attention, dilation buffers) equals Keras on the prefix,
    and its weight shapes, computed without TensorFlow, are the Keras model's."""
    import tensorflow as tf

    cfg = ModelConfig(arch=arch, vocab_size=len(VOCAB), units=16, layers=3, embedding_dim=8, dropout=0.1)
    tf.keras.utils.set_random_seed(3)
    model = models.build_model(cfg)
    weights = [w.astype(np.float32) for w in model.get_weights()]
    if arch == "lstm_attention":
        weights[7 + 3] = np.float32(1.7)  # a non-default attention scale must be honoured too
        model.set_weights(weights)
    assert [tuple(w.shape) for w in weights] == models.weight_shapes(cfg)
    bundle = ModelBundle(model=cfg, encoding=ENCODING, vocab=VOCAB, weights=tuple(weights))
    ids = np.random.default_rng(2).integers(0, len(VOCAB), 40)
    reference = model(ids[None, :], training=False)[0].numpy()
    stepper = models.make_stepper(bundle)
    stepped = np.stack([stepper.step(int(t)) for t in ids])
    assert np.abs(reference - stepped).max() < 1e-4


@pytest.mark.parametrize("arch", models.names())
def test_state_is_a_copy_that_set_state_restores_and_reset_forgets(arch):
    """Beam search forks runs with state()/set_state(): a saved state must not change as the stepper goes on."""
    cfg = ModelConfig(arch=arch, vocab_size=len(VOCAB), units=12, layers=2, embedding_dim=6, context=8)
    stepper = models.get(arch).stepper(cfg, _random_weights(cfg))
    ids = [int(t) for t in np.random.default_rng(4).integers(0, len(VOCAB), 30)]
    first = np.stack([stepper.step(t) for t in ids[:12]])  # past the attention window of 8
    saved = stepper.state()
    after = np.stack([stepper.step(t) for t in ids[12:]])
    for _ in range(2):  # restoring twice gives the same: stepping did not write into the saved state
        stepper.set_state(saved)
        assert np.array_equal(np.stack([stepper.step(t) for t in ids[12:]]), after)
    stepper.reset()
    assert np.array_equal(np.stack([stepper.step(t) for t in ids[:12]]), first)
    assert not np.array_equal(first[1:], after[: len(first) - 1])  # the logits depend on what came before


def test_the_built_ins_and_their_descriptions():
    assert models.names()[:5] == ("lstm", "gru", "rnn", "lstm_attention", "cnn")
    assert ModelConfig().arch == models.names()[0]
    assert all(line and "\n" not in line for line in models.descriptions().values())
    assert isinstance(models.get("gru"), models.Architecture)


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(BadConfig, match=r"unknown architecture 'perceiver'; available: lstm, gru, rnn, "):
        models.get("perceiver")
    with pytest.raises(BadConfig, match="unknown architecture"):
        ModelConfig.from_dict({"arch": ["lstm"]})  # an unhashable value from a hand-written config


def test_registering_checks_what_it_is_given():
    models.register(LSTM)  # the same class again (a module imported twice) is harmless
    assert models.names().count("lstm") == 1

    class Impostor(LSTM):
        description = "another class under a taken name"

    with pytest.raises(BadConfig, match=r"'lstm' is taken by neurotunes\.models\.lstm\.LSTM"):
        models.register(Impostor)

    class Half(models.Architecture):
        name, description = "half", "builds but cannot step"

        def build(self, config):
            return None

    with pytest.raises(BadConfig, match="Half cannot be registered: it does not implement stepper, weight_shapes"):
        models.register(Half)
    with pytest.raises(BadConfig, match="only Architecture subclasses"):
        models.register(LSTM())

    class Shouting(LSTM):
        name, description = "Big LSTM", "a name no CLI flag or link should carry"

    with pytest.raises(BadConfig, match="architecture names are 1-40 lower-case letters"):
        models.register(Shouting)
    assert "half" not in models.names() and "Big LSTM" not in models.names()


def test_a_bundle_whose_weights_do_not_fit_says_which_array():
    lstm = ModelConfig(arch="lstm", vocab_size=len(VOCAB), units=8, layers=1, embedding_dim=4)
    gru_weights = _random_weights(ModelConfig(arch="gru", vocab_size=len(VOCAB), units=8, layers=1, embedding_dim=4))
    files = ModelBundle(model=lstm, encoding=ENCODING, vocab=VOCAB, weights=gru_weights).to_files()
    with pytest.raises(BadModel, match=r"weights do not fit the lstm architecture in its config \(weight array 1 "
                                       r"has shape \(4, 24\), the config's model needs \(4, 32\)\)"):
        ModelBundle.from_files(files)
    files = ModelBundle(model=lstm, encoding=ENCODING, vocab=VOCAB, weights=gru_weights[:-1]).to_files()
    with pytest.raises(BadModel, match="it holds 5 weight arrays, the config's model has 6"):
        ModelBundle.from_files(files)


def test_loading_and_stepping_a_shipped_model_needs_no_tensorflow():
    code = (
        "import sys\n"
        "from neurotunes.bundle import load_bundle\n"
        "from neurotunes.models import make_stepper\n"
        "bundle = load_bundle('default')\n"
        "assert make_stepper(bundle).step(0).shape == (len(bundle.vocab),)\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
