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
    history = bundle.metrics.history
    assert history["loss"][-1] < history["loss"][0]
    assert bundle.metrics.val_nll_per_note > 0
    assert bundle.info.dataset.pieces_validation >= 1


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
    assert result.stopped_by == "user"
    assert result.history["loss"]  # the interrupted epoch still reported
    assert len(result.bundle.weights) == 6


def test_classic_encoding_trains_and_generates():
    from neurotunes.config import GenerateConfig
    from neurotunes.encodings import EncodingConfig
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
        "print('REPLICAS', r.bundle.info.replicas, r.history['loss'][-1] < r.history['loss'][0])\n"
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


# --- divergence, resume and the optimizer's state --------------------------------------------
def _tiny_dataset():
    pieces = [make_score(pitches=tuple(60 + ((i * k) % 12) for i in range(24)), step=0.25, dur=0.25)
              for k in range(1, 7)]
    return split_dataset(pieces, validation_fraction=0.2, seed=0)


TINY = ModelConfig(arch="lstm", units=8, layers=1, embedding_dim=4, dropout=0.0)


def _exploding_bundle(dataset, scale=1e37):
    """Finite weights so large that the first batch's loss overflows: a run that went off the rails.

    (A huge learning rate does not do it: TrainConfig caps it at 1.0 and Adam's steps with
    clipnorm=1.0 stay finite even at 1e6, measured over 30 batches on this model.)
    """
    from neurotunes.bundle import ModelBundle
    from neurotunes.encodings import encoding_for
    from neurotunes.models import weight_shapes

    vocab = encoding_for(dataset.encoding).vocabulary()
    model = ModelConfig.from_dict({**TINY.to_dict(), "vocab_size": len(vocab)})
    rng = np.random.default_rng(0)
    weights = tuple((rng.standard_normal(s) * scale).astype(np.float32) for s in weight_shapes(model))
    return ModelBundle(model, dataset.encoding, vocab, weights, info={"name": "exploding"})


def test_non_finite_loss_stops_with_a_message_and_no_weights():
    from neurotunes.errors import TrainingDiverged

    ds = _tiny_dataset()
    checkpoints = []
    with pytest.raises(TrainingDiverged) as err:
        train(ds, TINY, TrainConfig(epochs=2, batch_size=4, sequence_length=16), resume_from=_exploding_bundle(ds),
              on_epoch=checkpoints.append)
    message = str(err.value)
    assert "epoch 1, batch 1" in message and ("infinite" in message or "NaN" in message)
    assert "Lower the learning rate" in message and "0.002" in message and "training pieces" in message
    assert checkpoints == []  # nothing non-finite was handed out as a checkpoint


def test_resuming_non_finite_weights_is_refused():
    from neurotunes.errors import BadModel

    ds = _tiny_dataset()
    broken = _exploding_bundle(ds, scale=np.inf)
    with pytest.raises(BadModel, match="NaN or infinite"):
        train(ds, TINY, TrainConfig(epochs=1, batch_size=4, sequence_length=16), resume_from=broken)


def test_progress_of_a_resumed_run_counts_on():
    from neurotunes.training import Progress

    p = Progress(epoch=4, epochs=6, batch=None, batches=10, loss=1.0, accuracy=0.5, elapsed_s=10.0, initial_epoch=3)
    assert p.fraction == pytest.approx(4 / 6)
    assert p.eta_s == pytest.approx(20.0)  # one epoch of this run took 10 s; two are left


def test_resume_continues_epoch_numbering_history_and_adam():
    ds = _tiny_dataset()
    config = dict(batch_size=4, sequence_length=16, patience=0, max_steps_per_epoch=5)
    straight = train(ds, TINY, TrainConfig(epochs=3, **config))
    first = train(ds, TINY, TrainConfig(epochs=2, **config))
    seen, checkpoints = [], []
    resumed = train(ds, TINY, TrainConfig(epochs=1, **config), resume_from=first.bundle,
                    resume_optimizer=first.optimizer, on_progress=seen.append, on_epoch=checkpoints.append)
    assert len(resumed.history["loss"]) == len(straight.history["loss"]) == 3
    assert resumed.bundle.metrics.epochs_run == straight.bundle.metrics.epochs_run == 3
    assert resumed.history["loss"][:2] == first.history["loss"]
    assert {(p.epoch, p.epochs) for p in seen} == {(3, 3)}  # "epoch 3/3", not "1/1"
    assert [c.epoch for c in checkpoints] == [3]
    assert resumed.bundle.info.initial_epoch == 2 and resumed.bundle.info.resumed_from == first.bundle.hash
    # Adam's step count goes on as in the straight run (the loss fell every epoch: best = last).
    assert first.optimizer.iterations == 10
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 15
    # Without the saved state Adam starts again; on data without a validation set the earlier
    # run's validation curve stays in the history but says nothing about the new weights.
    no_validation = split_dataset(list(ds.train + ds.validation), validation_fraction=0.0)
    fresh = train(no_validation, TINY, TrainConfig(epochs=1, **config), resume_from=first.bundle)
    assert fresh.optimizer.iterations == 5
    assert len(fresh.history["loss"]) == 3 and fresh.history["val_loss"] == first.history["val_loss"]
    assert fresh.bundle.metrics.val_nll_per_note is None
    assert "val_nll_per_note" not in fresh.bundle.metrics.to_dict()


def test_checkpoint_folder_keeps_the_optimizer_state_and_refuses_pickles(tmp_path):
    import io

    from neurotunes.bundle import ModelBundle
    from neurotunes.errors import BadModel
    from neurotunes.training import OPTIMIZER_FILE, Checkpoint

    ds = _tiny_dataset()
    result = train(ds, TINY, TrainConfig(epochs=1, batch_size=4, sequence_length=16))
    folder = result.checkpoint.save(tmp_path / "run")
    assert ModelBundle.load(folder).hash == result.bundle.hash  # still a plain bundle everywhere else
    loaded = Checkpoint.load(folder)
    assert loaded.epoch == 1 and loaded.bundle.hash == result.bundle.hash
    assert loaded.optimizer.iterations == result.optimizer.iterations
    assert all(np.array_equal(a, b) for a, b in zip(loaded.optimizer.slots, result.optimizer.slots))
    assert len(loaded.optimizer.slots) == 2 * len(result.bundle.weights)  # m and v for every weight
    buf = io.BytesIO()
    np.savez(buf, iterations=np.asarray(3, dtype=np.int64), s000=np.array([{"run": "code"}], dtype=object))
    (folder / OPTIMIZER_FILE).write_bytes(buf.getvalue())
    with pytest.raises(BadModel, match="not a plain array file"):
        Checkpoint.load(folder)


@pytest.mark.slow
def test_cli_reports_divergence_on_one_line(tmp_path):
    import os
    import subprocess
    import sys

    from neurotunes.midi_io import write_midi
    from tests.conftest import ROOT

    ds = _tiny_dataset()
    _exploding_bundle(ds).save(tmp_path / "exploding")
    for i, score in enumerate(ds.train + ds.validation):
        write_midi(score, tmp_path / f"p{i}.mid")
    proc = subprocess.run(
        [sys.executable, "-m", "neurotunes", "train", "--files", *[str(p) for p in sorted(tmp_path.glob("*.mid"))],
         "--resume", str(tmp_path / "exploding"), "--sequence-length", "16", "--batch-size", "4", "--epochs", "2",
         "--checkpoint-dir", str(tmp_path / "ckpt"), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), "CI": "1"},
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("neurotunes: error:")]
    assert len(errors) == 1 and "epoch 1, batch 1" in errors[0] and "Lower the learning rate" in errors[0], proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "ckpt").exists()


def test_stopped_by_says_whether_stop_or_patience_ended_the_run():
    """``stopped_by`` is "user" only when Stop was pressed and "patience" when no progress ended the run."""
    from types import SimpleNamespace

    from neurotunes.training import _progress_callback

    def fake_model():
        optimizer = SimpleNamespace(iterations=SimpleNamespace(numpy=lambda: 0), variables=[])
        return SimpleNamespace(get_weights=lambda: [np.zeros(2, np.float32)], optimizer=optimizer,
                               stop_training=False)

    patient = _progress_callback(5, 1, None, None, patience=1)
    patient.model = fake_model()
    patient.on_epoch_end(0, {"loss": 1.0})
    assert patient.stopped_by is None and not patient.model.stop_training
    patient.on_epoch_end(1, {"loss": 2.0})  # worse: one epoch without progress is the patience
    assert patient.stopped_by == "patience" and patient.model.stop_training

    pressed = _progress_callback(5, 1, None, lambda: True, patience=1)
    pressed.model = fake_model()
    pressed.on_train_batch_end(0, {"loss": 1.0})
    assert pressed.stopped_by == "user" and pressed.model.stop_training


def test_prepare_arrays_gives_named_arrays():
    from neurotunes.training import TrainingArrays, prepare_arrays

    ds = _tiny_dataset()
    arrays = prepare_arrays(ds, TrainConfig(sequence_length=16))
    assert isinstance(arrays, TrainingArrays) and arrays.has_validation
    assert arrays.inputs.shape == arrays.targets.shape and arrays.inputs.shape[1] == 16
    assert np.array_equal(arrays.inputs[0, 1:], arrays.targets[0, :-1])  # the targets are the next tokens
    assert arrays.val_notes_per_token > 0 and int(arrays.inputs.max()) < len(arrays.vocab)
    no_validation = prepare_arrays(split_dataset(list(ds.train), validation_fraction=0.0),
                                   TrainConfig(sequence_length=16))
    assert not no_validation.has_validation and no_validation.val_targets is None
