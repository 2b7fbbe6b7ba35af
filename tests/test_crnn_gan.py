"""crnn_gan: the lstm stack as a generator, trained against a critic; only the generator is the model.

One short real run of each (``lstm`` and ``crnn_gan``, same seed, data and settings, four epochs of
three batches) backs most tests: during the warm-up (the first quarter of the steps) the two must
train identically, after it the critic must move the generator away from plain maximum likelihood.
"""

import math

import numpy as np
import pytest

from neurotunes import models
from neurotunes.bundle import ModelBundle, load_bundle
from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig
from neurotunes.dataset import split_dataset
from neurotunes.encodings import EncodingConfig, encoding_for
from neurotunes.generate import generate
from neurotunes.models.crnn_gan import ADVERSARIAL_LOGS, MLE_FLOOR, free_run_lengths, schedule
from neurotunes.training import train
from tests.conftest import make_score

VOCAB = encoding_for(EncodingConfig()).vocabulary()
EPOCHS, STEPS = 4, 3  # the warm-up is the first quarter of the steps: exactly the first epoch


def _config(arch: str, **changes) -> ModelConfig:
    return ModelConfig(**{"arch": arch, "vocab_size": len(VOCAB), "units": 16, "layers": 1, "embedding_dim": 8,
                          "dropout": 0.0, **changes})


def _max_difference(a, b) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``{arch: (TrainResult, [Checkpoint per epoch])}`` for lstm and crnn_gan on event-encoded pieces."""
    pieces = [make_score(pitches=tuple(60 + ((i * k) % 12) for i in range(24)), step=0.25, dur=0.25)
              for k in range(1, 7)]
    dataset = split_dataset(pieces, validation_fraction=0.2, seed=0)
    out = {}
    for arch in ("lstm", "crnn_gan"):
        checkpoints = []
        result = train(dataset, _config(arch), TrainConfig(epochs=EPOCHS, batch_size=4, sequence_length=16, patience=0,
                                                           max_steps_per_epoch=STEPS),
                       on_epoch=checkpoints.append, name=f"tiny {arch}")
        out[arch] = (result, checkpoints)
    out["dataset"] = dataset
    return out


def test_the_schedule_warms_up_then_never_drops_likelihood():
    assert schedule(0.0) == schedule(0.25) == (1.0, 0.0)  # maximum likelihood only
    assert schedule(0.375) == pytest.approx((1.0 - (1.0 - MLE_FLOOR) / 2, 0.5))
    assert schedule(0.5) == schedule(1.0) == (MLE_FLOOR, 1.0)
    assert 0.0 < MLE_FLOOR < 1.0
    assert free_run_lengths(128) == (16, 32)
    assert free_run_lengths(8) == (2, 6)  # the shortest chunk a TrainConfig allows still fits


def test_the_model_is_the_lstm_generator_and_steps_exactly():
    """get_weights() holds the generator alone, in the lstm's shapes; the critic is real but untracked."""
    import tensorflow as tf

    cfg = _config("crnn_gan", units=12, layers=2, dropout=0.1)
    tf.keras.utils.set_random_seed(3)
    model = models.build_model(cfg)
    weights = model.get_weights()
    shapes = [tuple(w.shape) for w in weights]
    assert shapes == models.weight_shapes(cfg) == models.weight_shapes(_config("lstm", units=12, layers=2))
    critic = model.critic.model.trainable_variables
    assert critic and {id(v) for v in critic}.isdisjoint(id(v) for v in model.variables)
    assert len(model.trainable_variables) == len(weights)
    ids = np.random.default_rng(2).integers(0, len(VOCAB), 30)
    reference = model(ids[None, :], training=False)[0].numpy()
    stepper = models.get("crnn_gan").stepper(cfg, weights)
    assert np.abs(reference - np.stack([stepper.step(int(t)) for t in ids])).max() < 1e-4
    model.set_weights([w * 0.5 for w in weights])  # set_weights takes an lstm's arrays, nothing more
    assert _max_difference(model.get_weights(), [w * 0.5 for w in weights]) == 0.0


def test_free_running_samples_are_one_hot_draws_from_the_model_with_a_gradient():
    """Straight-through Gumbel-softmax: exact one-hots forward whose frequencies follow the model's softmax
    (the stepper's, after the same prime), and a gradient that reaches the generator's weights."""
    import tensorflow as tf

    cfg = _config("crnn_gan", units=12)
    tf.keras.utils.set_random_seed(4)
    model = models.build_model(cfg)
    weights = model.get_weights()
    # Sharper logits (a few likely tokens, so a sampling error shows) that depend on the context.
    weights[-2] = weights[-2] * 20.0
    weights[-1] = np.random.default_rng(0).normal(0.0, 4.0, len(VOCAB)).astype(np.float32)
    model.set_weights(weights)
    prime = [5, 17, 40]
    stepper = models.get("crnn_gan").stepper(cfg, weights)
    for token in prime:
        logits = stepper.step(token)
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    draws = 4000
    primes = tf.constant([prime] * draws, tf.int32)
    uniform = tf.random.stateless_uniform((draws, 2, len(VOCAB)), (1, 2), minval=1e-20, maxval=1.0)
    with tf.GradientTape() as tape:
        samples = model.free_run(primes, 2, uniform)
        score = tf.reduce_sum(samples * tf.range(len(VOCAB), dtype=tf.float32))
    rows = samples.numpy()
    assert rows.shape == (draws, 2, len(VOCAB))
    assert set(np.unique(rows)) == {0.0, 1.0} and (rows.sum(axis=-1) == 1.0).all()
    seen = np.bincount(rows[:, 0].argmax(axis=-1), minlength=len(VOCAB)) / draws
    assert expected.max() > 0.1  # the check below would be weak on a near-uniform distribution
    # Total variation: 0.03 measured; sampling at temperature 0.8 instead gives 0.12, a flipped Gumbel sign 0.34.
    assert 0.5 * np.abs(seen - expected).sum() < 0.06
    assert len(set(rows[:, 1].argmax(axis=-1))) > 1  # the second token depends on the sampled first one
    gradients = tape.gradient(score, model.trainable_variables)
    assert all(g is not None for g in gradients)
    assert float(tf.linalg.global_norm(gradients)) > 0


def test_warm_up_is_plain_likelihood_then_the_critic_moves_the_generator(runs):
    lstm, lstm_checkpoints = runs["lstm"]
    gan, gan_checkpoints = runs["crnn_gan"]
    assert len(lstm_checkpoints) == len(gan_checkpoints) == EPOCHS
    # Same seed, data and first weights: the warm-up epoch trains exactly like the lstm (float noise only).
    assert _max_difference(lstm_checkpoints[0].bundle.weights, gan_checkpoints[0].bundle.weights) < 1e-6
    assert gan.history["loss"][0] == pytest.approx(lstm.history["loss"][0], abs=1e-6)
    # Then the adversarial terms take part: every later epoch ends with other weights.
    later = [_max_difference(a.bundle.weights, b.bundle.weights) for a, b in zip(lstm_checkpoints[1:],
                                                                                 gan_checkpoints[1:])]
    assert min(later) > 1e-4, later
    assert gan.history["adv_weight"][0] == 0.0 and gan.history["adv_weight"][-1] == 1.0


def test_the_adversarial_figures_are_logged_and_finite(runs):
    gan, _ = runs["crnn_gan"]
    history = gan.history
    for key in ADVERSARIAL_LOGS:
        assert len(history[key]) == EPOCHS and all(math.isfinite(v) for v in history[key]), key
    assert all(0.0 < v < 10.0 for v in history["d_loss"])  # 2 ln 2 = 1.39 when the critic guesses
    assert all(0.0 <= v <= 1.0 for v in history["d_acc"])
    assert all(v > 0.0 for v in history["g_adv"])
    assert not any(k.startswith("val_") and k[4:] in ADVERSARIAL_LOGS for k in history)  # validation: NLL only
    assert set(history) == {*runs["lstm"][0].history, *ADVERSARIAL_LOGS}
    assert gan.bundle.metrics.val_nll_per_note > 0


def test_the_bundle_is_a_plain_generator_that_loads_and_generates(runs, tmp_path):
    gan, _ = runs["crnn_gan"]
    bundle = gan.bundle
    assert bundle.model.arch == "crnn_gan"
    assert [w.shape for w in bundle.weights] == models.weight_shapes(bundle.model)
    path = gan.checkpoint.save(tmp_path / "gan")
    loaded = load_bundle(path)
    assert loaded.hash == bundle.hash and _max_difference(loaded.weights, bundle.weights) == 0.0
    assert ModelBundle.from_zip(loaded.to_zip()).hash == bundle.hash
    a = generate(loaded, GenerateConfig(length=12, seed=3))
    b = generate(loaded, GenerateConfig(length=12, seed=3))
    assert len(a) == 12 and a.notes == b.notes
    assert len(generate(loaded, GenerateConfig(length=6, beam_width=3))) == 6
    # The saved optimizer state is the generator's Adam alone (m and v per weight): resuming works unchanged.
    assert len(gan.optimizer.slots) == 2 * len(bundle.weights)


def test_a_run_resumes_with_its_optimizer_state(runs):
    gan, _ = runs["crnn_gan"]
    resumed = train(runs["dataset"], _config("crnn_gan"),
                    TrainConfig(epochs=1, batch_size=4, sequence_length=16, patience=0, max_steps_per_epoch=2),
                    resume_from=gan.bundle, resume_optimizer=gan.optimizer)
    assert len(resumed.history["d_loss"]) == EPOCHS + 1
    assert resumed.optimizer.iterations == gan.optimizer.iterations + 2
    assert _max_difference(resumed.bundle.weights, gan.bundle.weights) > 0
