import numpy as np
import pytest

from neurotunes.config import ModelConfig, TrainConfig
from neurotunes.dataset import augment_transpose, make_windows, split_dataset
from neurotunes.errors import DatasetError
from neurotunes.training import train
from tests.conftest import make_score


def test_split_is_by_piece_and_deterministic():
    pieces = [make_score(pitches=(60 + i,) * 4) for i in range(10)]
    a = split_dataset(pieces, validation_fraction=0.2, seed=3)
    b = split_dataset(pieces, validation_fraction=0.2, seed=3)
    assert a == b
    assert len(a.validation) == 2 and len(a.train) == 8
    assert not set(map(id, a.train)) & set(map(id, a.validation))
    assert len(split_dataset(pieces[:2], validation_fraction=0.01).validation) == 1


def test_windows_put_a_target_at_every_step():
    x, y = make_windows(np.arange(21), 5)
    assert x.shape == (4, 5)
    assert (y == x + 1).all()
    with pytest.raises(DatasetError, match="fewer than one sequence"):
        make_windows(np.arange(5), 8)


def test_augmentation_transposes_every_piece():
    out = augment_transpose([make_score()], 2)
    assert sorted(s.notes[0].pitch for s in out) == [58, 59, 60, 61, 62]


def test_tiny_model_learns(tiny_bundle):
    bundle, _ = tiny_bundle
    history = bundle.metrics["history"]
    assert history["loss"][-1] < history["loss"][0]
    assert bundle.metrics["val_nll_per_note"] > 0
    assert bundle.info["dataset"]["pieces_validation"] >= 1


def test_too_small_dataset_says_so():
    ds = split_dataset([make_score(pitches=(60, 62))], validation_fraction=0.0)
    with pytest.raises(DatasetError, match="lower the sequence length"):
        train(ds, ModelConfig(units=8, layers=1), TrainConfig(epochs=1, sequence_length=64))


def test_stop_request_keeps_best_weights():
    pieces = [make_score(pitches=tuple(60 + (i % 7) for i in range(40)), step=0.25, dur=0.25) for _ in range(3)]
    ds = split_dataset(pieces, validation_fraction=0.0)
    calls = []
    result = train(
        ds, ModelConfig(units=8, layers=1, embedding_dim=4), TrainConfig(epochs=5, batch_size=2, sequence_length=16),
        on_progress=calls.append, should_stop=lambda: len(calls) >= 3,
    )
    assert result.stopped_early
    assert result.history["loss"]  # the interrupted epoch still reported
    assert len(result.bundle.weights) == 6


def test_classic_encoding_trains_and_generates():
    from neurotunes.config import GenerateConfig
    from neurotunes.encoding import EncodingConfig
    from neurotunes.generate import generate
    from neurotunes.metrics import model_metrics

    pieces = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(30)), step=0.25, dur=0.25) for k in (1, 2, 3)]
    ds = split_dataset(pieces, validation_fraction=0.34, encoding=EncodingConfig(name="classic"))
    result = train(ds, ModelConfig(units=16, layers=1, embedding_dim=8), TrainConfig(epochs=1, batch_size=2,
                                                                                      sequence_length=8))
    bundle = result.bundle
    assert bundle.encoding.name == "classic" and bundle.vocab.tokens[0] == "BOS"
    out = generate(bundle, GenerateConfig(length=12, seed=0, tempo_bpm=120))
    assert len(out) == 12
    assert all(abs(n.start / 0.25 - round(n.start / 0.25)) < 1e-9 for n in out.notes)  # half-beat offsets
    m = model_metrics(bundle, ds.validation)
    assert m["notes"] == 30 and m["nll_per_note"] > 0 and 0 <= m["pitch_accuracy"] <= 1


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    """--strategy mirrored trains with 2 replicas when the CPU is split into 2 logical devices."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from neurotunes.config import ModelConfig, TrainConfig\n"
        "from neurotunes.dataset import split_dataset\n"
        "from neurotunes.training import train\n"
        "from tests.conftest import make_score\n"
        "pieces = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(40)), step=0.25, dur=0.25) for k in (1, 2, 3)]\n"
        "ds = split_dataset(pieces, validation_fraction=0.34)\n"
        "r = train(ds, ModelConfig(units=16, layers=1, embedding_dim=8), TrainConfig(epochs=2, batch_size=4,\n"
        "          sequence_length=16, strategy='mirrored'))\n"
        "print('REPLICAS', r.bundle.info['replicas'], r.history['loss'][-1] < r.history['loss'][0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "REPLICAS 2 True" in out.stdout, out.stdout


def test_step_budget_is_exact_even_for_small_data():
    """A fixed number of batches per epoch, cycling the data: equal budgets for unequal datasets."""
    pieces = [make_score(pitches=tuple(60 + (i % 5) for i in range(40)), step=0.25, dur=0.25) for _ in range(2)]
    ds = split_dataset(pieces, validation_fraction=0.0)
    batches = []
    train(ds, ModelConfig(units=8, layers=1, embedding_dim=4),
          TrainConfig(epochs=2, batch_size=2, sequence_length=16, max_steps_per_epoch=7, patience=0),
          on_progress=lambda p: batches.append(p.batch) if p.batch else None)
    assert len(batches) == 14 and max(batches) == 7
