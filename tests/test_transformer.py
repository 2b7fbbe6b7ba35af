"""The ``transformer`` architecture: relative attention in Keras, and its NumPy stepper with cached keys and values."""

import numpy as np
import pytest

from neurotunes import models
from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig
from neurotunes.dataset import split_dataset
from neurotunes.generate import generate
from neurotunes.models.transformer import BLOCK_ARRAYS, heads_for
from neurotunes.training import train
from tests.conftest import make_score

#: The small config the exactness checks use: 16-token window, sequences 3x as long.
SMALL = ModelConfig(arch="transformer", vocab_size=40, units=32, layers=2, context=16, embedding_dim=16, dropout=0.1)


def _random_weights(cfg: ModelConfig, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in models.weight_shapes(cfg)]


@pytest.fixture(scope="module")
def small_model():
    """The Keras model of SMALL holding random weights (the relative tables far from their initial values)."""
    model = models.build_model(SMALL)
    weights = _random_weights(SMALL)
    model.set_weights(weights)
    return model, weights


def _logits(model, ids) -> np.ndarray:
    return model(np.asarray(ids)[None, :], training=False)[0].numpy()


def test_the_description_and_the_head_rule():
    assert "transformer" in models.names()
    assert models.descriptions()["transformer"].startswith("Transformer decoder with relative attention")
    assert [heads_for(u) for u in (16, 64, 128, 200, 256, 512)] == [1, 1, 2, 2, 4, 8]


@pytest.mark.parametrize("embedding_dim", [16, 32])
def test_weight_shapes_are_the_built_models_in_order(embedding_dim):
    """With and without the input projection (embedding_dim == units leaves it out)."""
    cfg = ModelConfig(arch="transformer", vocab_size=40, units=32, layers=3, context=24, embedding_dim=embedding_dim)
    model = models.build_model(cfg)
    shapes = [tuple(w.shape) for w in model.get_weights()]
    assert shapes == models.weight_shapes(cfg)
    assert len(shapes) == 1 + (embedding_dim != 32) * 2 + 3 * BLOCK_ARRAYS + 2 + 2
    assert (1, 24, 32) in shapes  # one head of 32, a relative embedding for each of the 24 distances
    assert not any(s[:1] == (24,) for s in shapes)  # no absolute position table


def test_weights_round_trip_through_get_weights_in_the_declared_order(small_model):
    model, weights = small_model
    again = models.build_model(SMALL)
    again.set_weights(model.get_weights())
    ids = np.random.default_rng(7).integers(0, 40, 20)
    assert np.array_equal(_logits(again, ids), _logits(model, ids))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))


def test_the_stepper_equals_keras_at_every_position_past_the_window(small_model):
    """3 x context tokens: the cache wraps around twice and every step still equals the whole-sequence model."""
    model, weights = small_model
    ids = np.random.default_rng(1).integers(0, 40, 3 * SMALL.context)
    reference = _logits(model, ids)
    stepper = models.get("transformer").stepper(SMALL, weights)
    stepped = np.stack([stepper.step(int(t)) for t in ids])
    assert stepped.shape == (48, 40) and stepped.dtype == np.float32
    assert np.abs(reference - stepped).max() < 1e-4
    assert np.abs(reference).max() > 0.5  # not trivially small logits


def test_a_copied_state_restores_the_run_exactly(small_model):
    model, weights = small_model
    ids = np.random.default_rng(2).integers(0, 40, 3 * SMALL.context)
    reference = _logits(model, ids)
    stepper = models.get("transformer").stepper(SMALL, weights)
    for t in ids[:20]:
        stepper.step(int(t))
    saved = stepper.state()
    for t in np.random.default_rng(3).integers(0, 40, 25):  # another continuation writes over the ring
        stepper.step(int(t))
    for _ in range(2):  # stepping on from a restored state never writes into the saved one
        stepper.set_state(saved)
        resumed = np.stack([stepper.step(int(t)) for t in ids[20:]])
        assert np.abs(reference[20:] - resumed).max() < 1e-4
    stepper.reset()
    assert np.abs(reference[:5] - np.stack([stepper.step(int(t)) for t in ids[:5]])).max() < 1e-4


def test_the_window_bounds_what_a_prediction_hears(small_model):
    """Each layer attends `context` positions back, so the stack hears layers * (context - 1) + 1 tokens:
    tokens further back never change a prediction; the oldest one inside does."""
    model, _ = small_model
    rng = np.random.default_rng(4)
    heard = SMALL.layers * (SMALL.context - 1) + 1
    tail = rng.integers(0, 40, heard)
    a = _logits(model, np.concatenate([rng.integers(0, 40, 10), tail]))
    b = _logits(model, np.concatenate([rng.integers(0, 40, 10), tail]))
    assert np.abs(a[-1] - b[-1]).max() < 1e-5
    changed = tail.copy()
    changed[0] = (changed[0] + 1) % 40
    c = _logits(model, np.concatenate([rng.integers(0, 40, 10), changed]))
    assert np.abs(a[-1] - c[-1]).max() > 1e-4


def test_relative_row_d_is_the_distance_i_minus_j(small_model):
    """Changing E_r[d] of the first layer leaves positions 0..d-1 alone (no pair that far apart yet) and moves
    position d (whose first token lies d back): the table is indexed by i - j, not j - i or an absolute position."""
    model, weights = small_model
    d = 5
    relative_index = 3 + 6  # embedding, projection (2), then LN1 (2), QKV (2), output (2): E_r
    assert weights[relative_index].shape == (1, SMALL.context, 32)
    changed = [w.copy() for w in weights]
    changed[relative_index][:, d] += 3.0
    other = models.build_model(SMALL)
    other.set_weights(changed)
    ids = np.random.default_rng(5).integers(0, 40, 12)
    before, after = _logits(model, ids), _logits(other, ids)
    assert np.abs(before[:d] - after[:d]).max() < 1e-5
    assert np.abs(before[d] - after[d]).max() > 1e-3


def test_position_is_heard_without_an_absolute_embedding(small_model):
    """Permuting the earlier tokens changes the next prediction (order matters through E_r alone)."""
    model, _ = small_model
    ids = np.array([3, 9, 17, 25, 31, 4])
    swapped = np.array([9, 3, 17, 25, 31, 4])
    assert np.abs(_logits(model, ids)[-1] - _logits(model, swapped)[-1]).max() > 1e-3


def test_dropout_acts_only_in_training(small_model):
    model, _ = small_model
    ids = np.random.default_rng(6).integers(0, 40, 20)[None, :]
    assert np.array_equal(model(ids, training=False).numpy(), model(ids, training=False).numpy())
    assert not np.allclose(model(ids, training=True).numpy(), model(ids, training=False).numpy())


def test_trains_through_the_trainer_and_generates():
    """A tiny transformer fitted by neurotunes.training.train (chunks longer than the window) learns, and its
    bundle generates reproducibly, beam search (which forks the cached keys and values) included."""
    pieces = [make_score(pitches=tuple(60 + ((i * k) % 12) for i in range(40)), step=0.25, dur=0.25)
              for k in range(1, 9)]
    dataset = split_dataset(pieces, validation_fraction=0.25, seed=0)
    result = train(dataset, ModelConfig(arch="transformer", units=32, layers=1, context=32, embedding_dim=16,
                                        dropout=0.0),
                   TrainConfig(epochs=2, batch_size=4, sequence_length=48, patience=0, learning_rate=3e-3))
    bundle = result.bundle
    assert bundle.model.arch == "transformer" and bundle.model.vocab_size == len(bundle.vocab)
    history = result.history
    assert history["loss"][-1] < history["loss"][0]
    assert bundle.metrics.val_nll_per_note > 0
    a = generate(bundle, GenerateConfig(length=12, seed=3))
    b = generate(bundle, GenerateConfig(length=12, seed=3))
    assert len(a) == 12 and a.notes == b.notes
    assert len(generate(bundle, GenerateConfig(length=6, beam_width=3))) == 6
