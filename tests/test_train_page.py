"""The Train page through AppTest: kept settings, divergence and crash messages, resume numbering."""

from __future__ import annotations

import os
import signal
import time

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.ui import state
from tests.conftest import ROOT, make_score
from tests.test_jobs import tiny_dataset

pytestmark = pytest.mark.slow
APP = str(ROOT / "app.py")


def _train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("app_pages/train.py")
    return at.run()


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def _new_model(at: AppTest) -> AppTest:
    """Choose "A new model" (the page starts on fine-tuning the shipped Bach model)."""
    from neurotunes.ui.train_form import NEW_MODEL

    return _by_label(at.radio, "Start from").set_value(NEW_MODEL).run()


def _wait(condition, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def _settings(at: AppTest) -> dict:
    return {
        "start": _by_label(at.radio, "Start from").value,
        "pieces": _by_label(at.slider, "Chorales").value,
        "keys": _by_label(at.checkbox, "Move every chorale to C major / A minor").value,
        "preset": _by_label(at.selectbox, "Architecture").value,
        "epochs": _by_label(at.slider, "Epochs").value,
        "transpose": _by_label(at.slider, "Transpose ± semitones (augmentation)").value,
        "cell": _by_label(at.selectbox, "Cell").value,
        "layers": _by_label(at.number_input, "Layers").value,
        "units": _by_label(at.select_slider, "Units").value,
        "dropout": _by_label(at.slider, "Dropout").value,
        "embedding": _by_label(at.select_slider, "Embedding size").value,
        "lr": _by_label(at.select_slider, "Learning rate").value,
        "schedule": _by_label(at.selectbox, "Learning-rate schedule").value,
        "patience": _by_label(at.number_input, "Early stop after epochs without progress (0 = off)").value,
        "sample_every": _by_label(at.slider, "Play a sample every N epochs").value,
        "window": _by_label(at.select_slider, "Training window (tokens)").value,
        "name": _by_label(at.text_input, "Model name").value,
    }


def test_a_preset_kept_under_its_earlier_name_opens_as_the_same_preset():
    """A browser's kept Train settings may name a preset as it was called before: the page shows that preset."""
    from neurotunes.ui.train_form import PRESETS, RENAMED_PRESETS

    assert set(RENAMED_PRESETS.values()) <= set(PRESETS) and not set(RENAMED_PRESETS) & set(PRESETS)
    from neurotunes.ui.train_form import NEW_MODEL

    at = AppTest.from_file(APP, default_timeout=120)
    # As a browser's kept settings are put back: before the page draws its widgets.
    at.session_state[state.TRAIN_START_FROM] = NEW_MODEL
    at.session_state[state.TRAIN_PRESET] = "Like the LSTM, a little faster (2 × GRU 256)"
    at.switch_page("app_pages/train.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    chosen = _by_label(at.selectbox, "Architecture").value
    assert chosen == "Four-voice chorales, like the shipped default (2 × GRU 256; use beat frames)"


def test_settings_survive_a_page_switch():
    at = _new_model(_train_page())
    _by_label(at.selectbox, "Architecture").set_value(
        "Four-voice chorales, like the shipped default (2 × GRU 256; use beat frames)").run()
    assert _by_label(at.selectbox, "Cell").value == "gru"  # the preset fills in "More settings"
    assert _by_label(at.slider, "Dropout").value == 0.2  # as the shipped four-voice model was trained
    _by_label(at.slider, "Chorales").set_value(15)
    _by_label(at.checkbox, "Move every chorale to C major / A minor").uncheck()
    _by_label(at.slider, "Epochs").set_value(7)
    _by_label(at.slider, "Transpose ± semitones (augmentation)").set_value(2)
    _by_label(at.number_input, "Layers").set_value(3)
    _by_label(at.select_slider, "Units").set_value(64)
    _by_label(at.slider, "Dropout").set_value(0.1)
    _by_label(at.select_slider, "Embedding size").set_value(32)
    _by_label(at.select_slider, "Learning rate").set_value(1e-3)
    _by_label(at.selectbox, "Learning-rate schedule").set_value("cosine")
    _by_label(at.number_input, "Early stop after epochs without progress (0 = off)").set_value(5)
    _by_label(at.slider, "Play a sample every N epochs").set_value(2)
    _by_label(at.select_slider, "Training window (tokens)").set_value(256)
    _by_label(at.text_input, "Model name").set_value("Fugue bot")
    at.run()
    chosen = _settings(at)
    assert chosen["layers"] == 3 and chosen["name"] == "Fugue bot" and chosen["schedule"] == "cosine"
    assert chosen["window"] == 256
    for page in ("generate", "dataset"):
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    at.switch_page("app_pages/train.py")
    at.run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert _settings(at) == chosen


def test_divergence_is_a_message_on_the_page():
    from neurotunes.config import TrainConfig
    from neurotunes.ui.jobs import TrainingJob
    from tests.test_training import TINY, _exploding_bundle

    at = _train_page()
    dataset = tiny_dataset()
    job = TrainingJob(dataset, TINY, TrainConfig(epochs=2, batch_size=4, sequence_length=16), name="wild",
                      resume_from=_exploding_bundle(dataset)).start()
    at.session_state[state.TRAIN_JOB] = job
    _wait(lambda: not job.active)
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("Training failed" in e and "epoch 1, batch 1" in e and "Lower the learning rate" in e
               for e in errors), errors
    assert not at.session_state[state.TRAINED_MODELS]


def _running(job) -> bool:
    """The job has started training (and has not failed on the way)."""
    assert job.status != "failed", job.error
    return job.pid is not None and bool(job.snapshot().batch_losses)


def _train_on_tiny_data(at: AppTest, epochs: int) -> AppTest:
    """Pieces long enough for the page's 128-token chunks: one batch per epoch."""
    from neurotunes.dataset import split_dataset

    pieces = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(200)), step=0.25, dur=0.25)
              for k in range(1, 7)]
    at.session_state[state.BUILT_DATASET] = split_dataset(pieces, validation_fraction=0.2, seed=0)
    at.run()
    _by_label(at.radio, "Train on").set_value("The dataset from the Dataset page")
    _new_model(at)
    _by_label(at.selectbox, "Architecture").set_value("Fastest to train, for small datasets and tries (1 × LSTM 128)").run()
    _by_label(at.slider, "Epochs").set_value(epochs)
    return _by_label(at.button, "Train").click().run()


def test_a_killed_training_process_is_a_failed_run_not_a_hung_page():
    at = _train_on_tiny_data(_train_page(), epochs=100)
    job = at.session_state[state.TRAIN_JOB]
    _wait(lambda: _running(job))
    os.kill(job.pid, signal.SIGKILL)
    _wait(lambda: not job.active, timeout=20)
    at.run()
    assert not at.exception
    assert any("Training failed" in e.value and "SIGKILL" in e.value for e in at.error), [e.value for e in at.error]
    assert not _by_label(at.button, "Train").disabled  # the page is usable again


def test_resume_on_the_page_numbers_epochs_on():
    at = _train_on_tiny_data(_train_page(), epochs=100)
    job = at.session_state[state.TRAIN_JOB]
    _wait(lambda: _running(job) and len(job.snapshot().history.get("loss", [])) >= 2)
    at.run()
    _by_label(at.button, "Stop (keep the best weights)").click().run()
    _wait(lambda: not job.active)
    at.run()
    assert job.status == "stopped", job.error
    done = len(job.history["loss"])
    _by_label(at.slider, "Epochs").set_value(2)
    _by_label(at.button, "Resume this run").click().run()
    resumed = at.session_state[state.TRAIN_JOB]
    assert resumed is not job and resumed.resume_from is job.result and resumed.resume_optimizer is job.optimizer
    messages = set()
    while resumed.active:
        messages.add(resumed.snapshot().message.split(" · ")[0])
        time.sleep(0.05)
    assert resumed.status == "done", resumed.error
    assert len(resumed.history["loss"]) == done + 2
    assert f"Epoch {done + 2}/{done + 2}" in messages, messages
    assert resumed.result.info.initial_epoch == done


def test_the_quick_run_fine_tunes_the_shipped_model_on_pieces_the_evaluate_page_never_uses():
    """The default quick run: the shipped Bach model taught more chorales, none of them held out."""
    from neurotunes.bundle import load_bundle
    from neurotunes.corpus import held_out_sources

    at = _train_page()
    assert _by_label(at.radio, "Start from").value.startswith("The shipped Bach LSTM")
    assert not [w for w in at.selectbox if w.label == "Architecture"]  # the shipped model's architecture is kept
    assert _by_label(at.select_slider, "Learning rate").value == 1e-4
    _by_label(at.slider, "Chorales").set_value(5)
    _by_label(at.slider, "Epochs").set_value(1)
    _by_label(at.button, "Train").click().run()
    job = at.session_state[state.TRAIN_JOB]
    _wait(lambda: not job.active, timeout=240)
    at.run()
    assert job.status == "done", job.error
    shipped = load_bundle("lstm")
    result = job.result
    assert result.model == shipped.model and result.encoding == shipped.encoding
    assert result.info.resumed_from == shipped.hash
    assert "none of the Evaluate page's held-out ones" in result.info.dataset.description
    assert result.info.dataset.pieces_train + result.info.dataset.pieces_validation == 5
    assert held_out_sources("bach"), "the held-out list is empty: the check above proves nothing"
    assert job.model_key in at.session_state[state.TRAINED_MODELS]
    assert at.session_state[state.ACTIVE_MODEL] == state.DEFAULT_MODEL  # Generate keeps it until asked


def test_the_page_trains_streaming_from_prepared_shards(tmp_path, monkeypatch):
    """Shards prepared with `neurotunes prepare` into the shards folder are a source on the page; training
    streams them in the training process; shards in another encoding than the model to teach are refused."""
    from neurotunes.encodings import EncodingConfig
    from neurotunes.midi_io import score_to_midi
    from neurotunes.shards import SHARDS_DIR_ENV, prepare
    from neurotunes.ui.train_form import SHARDS

    music = tmp_path / "music"
    music.mkdir()
    for k in range(1, 41):
        piece = make_score(pitches=tuple(55 + (i * k) % 19 for i in range(64)), step=0.25, dur=0.25)
        (music / f"p{k}.mid").write_bytes(score_to_midi(piece))
    root = tmp_path / "shards"
    prepare([str(music)], root / "my tunes", encoding=EncodingConfig(), items_per_shard=10)
    prepare([str(music)], root / "as names", encoding=EncodingConfig(name="classic"), items_per_shard=20)
    (root / "not prepared").mkdir()
    monkeypatch.setenv(SHARDS_DIR_ENV, str(root))

    at = _train_page()
    radio = _by_label(at.radio, "Train on")
    assert SHARDS in radio.options
    radio.set_value(SHARDS).run()
    assert _by_label(at.selectbox, "Shards folder").options == ["as names", "my tunes"]  # prepared ones only
    _by_label(at.selectbox, "Shards folder").set_value("as names").run()
    assert any("classic encoding" in c.value for c in at.caption)
    _by_label(at.button, "Train").click().run()  # the shipped Bach model reads event tokens: refused, page kept
    assert any("classic encoding" in e.value and "Prepare them again" in e.value for e in at.error)
    assert state.TRAIN_JOB not in at.session_state or at.session_state[state.TRAIN_JOB] is None  # nothing started

    _by_label(at.selectbox, "Shards folder").set_value("my tunes").run()
    assert any("tokens in 4 files · event encoding" in c.value for c in at.caption), [c.value for c in at.caption]
    _new_model(at)
    _by_label(at.selectbox, "Architecture").set_value("Fastest to train, for small datasets and tries (1 × LSTM 128)").run()
    _by_label(at.slider, "Epochs").set_value(1)
    _by_label(at.select_slider, "Training window (tokens)").set_value(64)
    _by_label(at.button, "Train").click().run()
    assert not at.error, [e.value for e in at.error]
    job = at.session_state[state.TRAIN_JOB]
    _wait(lambda: not job.active, timeout=240)
    at.run()
    assert job.status == "done", job.error
    assert job.result.info.dataset.description.startswith("shards from")
    assert job.result.info.dataset.pieces_train + job.result.info.dataset.pieces_validation == 40
    assert job.model_key in at.session_state[state.TRAINED_MODELS]
