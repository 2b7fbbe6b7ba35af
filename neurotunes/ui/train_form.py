"""The Train page's settings and its one action: presets into widgets, widgets into configs, a job started.

Every setting's widget is keyed by a ``TRAIN_*`` key of :mod:`neurotunes.ui.state` and
kept for the session, so the configs are read back from the session state.
"""

from __future__ import annotations

import streamlit as st

from ..bundle import ModelBundle
from ..config import ModelConfig, TrainConfig
from ..dataset import CorpusRecipe, Dataset
from ..training import OptimizerState
from . import state
from .jobs import TrainingJob

PRESETS = {
    "Classic: 2 × LSTM 256, dropout 0.3": ModelConfig(arch="lstm", units=256, layers=2, dropout=0.3),
    "Quick: 1 × LSTM 128": ModelConfig(arch="lstm", units=128, layers=1, dropout=0.2),
    "GRU: 2 × GRU 256": ModelConfig(arch="gru", units=256, layers=2, dropout=0.3),
    "LSTM + attention: 2 × LSTM 256": ModelConfig(arch="lstm_attention", units=256, layers=2, dropout=0.3),
    "Dilated CNN (WaveNet-like): 7 layers × 128": ModelConfig(arch="cnn", units=128, layers=7, dropout=0.1),
    "Simple RNN: 2 × 256": ModelConfig(arch="rnn", units=256, layers=2, dropout=0.2),
}
FROM_DATASET, QUICK = "The dataset from the Dataset page", "Quick: Bach chorales"
DEFAULT_NAME = "My model"
#: The quick dataset's validation share (by piece).
QUICK_VALIDATION = 0.1


def preset_settings(preset: str) -> dict[str, object]:
    """The architecture widgets' values for a preset, by session key."""
    base = PRESETS[preset]
    return {state.TRAIN_ARCH: base.arch, state.TRAIN_LAYERS: base.layers, state.TRAIN_UNITS: base.units,
            state.TRAIN_DROPOUT: base.dropout, state.TRAIN_EMBEDDING: base.embedding_dim}


def apply_preset() -> None:
    st.session_state.update(preset_settings(st.session_state[state.TRAIN_PRESET]))


def start_with_defaults() -> None:
    """Settings start from these once per session; the widgets take no ``value=``, so nothing fights the
    kept state."""
    first = next(iter(PRESETS))
    for key, value in {state.TRAIN_PIECES: 40, state.TRAIN_KEY_NORMALIZE: True, state.TRAIN_PRESET: first,
                       state.TRAIN_EPOCHS: 3, state.TRAIN_LR: 2e-3, state.TRAIN_PATIENCE: 3,
                       state.TRAIN_NAME: DEFAULT_NAME, **preset_settings(first)}.items():
        st.session_state.setdefault(key, value)


def current_configs() -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs the widgets describe."""
    s = st.session_state
    model_config = ModelConfig(arch=s[state.TRAIN_ARCH], layers=int(s[state.TRAIN_LAYERS]),
                               units=int(s[state.TRAIN_UNITS]), dropout=float(s[state.TRAIN_DROPOUT]),
                               embedding_dim=int(s[state.TRAIN_EMBEDDING]))
    train_config = TrainConfig(epochs=int(s[state.TRAIN_EPOCHS]), transpose_semitones=int(s[state.TRAIN_TRANSPOSE]),
                               learning_rate=float(s[state.TRAIN_LR]), lr_schedule=s[state.TRAIN_SCHEDULE],
                               patience=int(s[state.TRAIN_PATIENCE]))
    return model_config, train_config


def quick_dataset() -> CorpusRecipe:
    """The quick source: the first chorales of music21's Bach corpus, as many as the slider says (read by the
    training process, so the server never parses them)."""
    return CorpusRecipe("bach", limit=int(st.session_state[state.TRAIN_PIECES]),
                        validation_fraction=QUICK_VALIDATION,
                        key_normalization=bool(st.session_state[state.TRAIN_KEY_NORMALIZE]))


def start_job(dataset: Dataset | CorpusRecipe, resume_from: ModelBundle | None = None,
              resume_optimizer: OptimizerState | None = None) -> TrainingJob:
    """Start training ``dataset`` with the page's settings; the job becomes the session's."""
    model_config, train_config = current_configs()
    job = TrainingJob(dataset, model_config, train_config, name=st.session_state[state.TRAIN_NAME] or DEFAULT_NAME,
                      resume_from=resume_from, resume_optimizer=resume_optimizer,
                      sample_every=int(st.session_state[state.TRAIN_SAMPLE_EVERY]))
    st.session_state[state.TRAIN_JOB] = job.start()
    return job
