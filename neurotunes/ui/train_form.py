"""The Train page's settings and its one action: presets into widgets, widgets into configs, a job started.

Every setting's widget is keyed by a ``TRAIN_*`` key of :mod:`neurotunes.ui.state` and
kept for the session, so the configs are read back from the session state.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ..bundle import ModelBundle
from ..config import ModelConfig, TrainConfig
from ..dataset import CorpusRecipe, Dataset, normalize_key
from ..errors import BadConfig
from ..shards import ShardSet
from ..training import OptimizerState
from . import cache, state
from .jobs import TrainingJob

#: Presets by what they are good for (the Train page's "Architecture"); each fills in "More settings".
PRESETS = {
    "All-round, the tutorial's model (2 × LSTM 256)": ModelConfig(arch="lstm", units=256, layers=2, dropout=0.3),
    "Fastest to train, for small datasets and tries (1 × LSTM 128)": ModelConfig(arch="lstm", units=128, layers=1,
                                                                                  dropout=0.2),
    "Long phrases as events, like the shipped Bach LSTM (LSTM 256 + attention)": ModelConfig(
        arch="lstm_attention", units=256, layers=2, dropout=0.3),
    # The shipped four-voice model's network (scripts/train_shipped.py chorale); its music comes with beat frames.
    "Four-voice chorales, like the shipped default (2 × GRU 256; use beat frames)": ModelConfig(
        arch="gru", units=256, layers=2, dropout=0.2),
    "Long-range structure, slowest on a CPU (Transformer, 4 × 256)": ModelConfig(
        arch="transformer", units=256, layers=4, dropout=0.1),
    "Fast on a GPU, short motifs (dilated CNN, WaveNet-like, 7 layers)": ModelConfig(arch="cnn", units=128, layers=7,
                                                                                       dropout=0.1),
    "Experiment: adversarial training (C-RNN-GAN, 2 × LSTM 256)": ModelConfig(arch="crnn_gan", units=256, layers=2,
                                                                               dropout=0.3),
    "Teaching baseline: the simplest recurrent net (2 × RNN 256)": ModelConfig(arch="rnn", units=256, layers=2,
                                                                                dropout=0.2),
}
#: Presets' earlier names -> today's (a browser's kept Train settings may hold an earlier name).
RENAMED_PRESETS = {
    "Long phrases and chorales, like the shipped models (LSTM 256 + attention)":
        "Long phrases as events, like the shipped Bach LSTM (LSTM 256 + attention)",
    "Like the LSTM, a little faster (2 × GRU 256)":
        "Four-voice chorales, like the shipped default (2 × GRU 256; use beat frames)",
}
FROM_DATASET, QUICK, SHARDS = "The dataset from the Dataset page", "Quick: Bach chorales", "Prepared shards"
NEW_MODEL = "A new model"
#: Start from: a new model with the settings below, or a shipped model (by its name for load_bundle) taught more.
START_FROM = {
    # The event LSTM: 3-minute runs on 2 cores teach it most (the four-voice model's long windows cost more).
    "The shipped Bach LSTM: teach it your pieces (fastest to good music)": "lstm",
    NEW_MODEL: None,
    "The shipped fiddle model: teach it your pieces": "fiddle",
}
#: What fine-tuning changes on the page: few epochs at a learning rate low enough to keep what the model knows.
FINE_TUNE_SETTINGS = {state.TRAIN_EPOCHS: 2, state.TRAIN_LR: 1e-4, state.TRAIN_SCHEDULE: "constant"}
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


def apply_start_from() -> None:
    """Fine-tuning a shipped model starts from its own settings; a new model from the chosen preset's."""
    if fine_tune_base() is not None:
        st.session_state.update(FINE_TUNE_SETTINGS)
    else:
        st.session_state.update({state.TRAIN_EPOCHS: 3, state.TRAIN_LR: 2e-3})
        apply_preset()


def fine_tune_base() -> ModelBundle | None:
    """The shipped model the page fine-tunes, or None for a new model."""
    name = START_FROM.get(st.session_state.get(state.TRAIN_START_FROM))
    return cache.shipped_bundle(name) if name else None


def start_with_defaults() -> None:
    """Settings start from these once per session; the widgets take no ``value=``, so nothing fights the
    kept state."""
    first = next(iter(PRESETS))
    kept = st.session_state.get(state.TRAIN_PRESET)
    if kept in RENAMED_PRESETS:  # a kept setting from before a preset was renamed: the same preset
        st.session_state[state.TRAIN_PRESET] = RENAMED_PRESETS[kept]
    for key, value in {state.TRAIN_PIECES: 40, state.TRAIN_KEY_NORMALIZE: True, state.TRAIN_PRESET: first,
                       state.TRAIN_START_FROM: next(iter(START_FROM)), state.TRAIN_PATIENCE: 3,
                       state.TRAIN_NAME: DEFAULT_NAME, state.TRAIN_WINDOW: TrainConfig().sequence_length,
                       **preset_settings(first), **FINE_TUNE_SETTINGS}.items():
        st.session_state.setdefault(key, value)


def current_configs() -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs the widgets describe."""
    s = st.session_state
    window = int(s[state.TRAIN_WINDOW])
    model_config = ModelConfig(arch=s[state.TRAIN_ARCH], layers=int(s[state.TRAIN_LAYERS]),
                               units=int(s[state.TRAIN_UNITS]), dropout=float(s[state.TRAIN_DROPOUT]),
                               embedding_dim=int(s[state.TRAIN_EMBEDDING]), context=window)
    train_config = TrainConfig(epochs=int(s[state.TRAIN_EPOCHS]), transpose_semitones=int(s[state.TRAIN_TRANSPOSE]),
                               sequence_length=window,
                               learning_rate=float(s[state.TRAIN_LR]), lr_schedule=s[state.TRAIN_SCHEDULE],
                               patience=int(s[state.TRAIN_PATIENCE]))
    return model_config, train_config


def quick_dataset(base: ModelBundle | None = None) -> CorpusRecipe:
    """The quick source: the first chorales of music21's Bach corpus that the Evaluate page does not hold out,
    as many as the slider says (read by the training process, so the server never parses them); in the
    encoding of the model to fine-tune, and its keys, when there is one."""
    key_normalization = bool(st.session_state[state.TRAIN_KEY_NORMALIZE])
    if base is not None:
        key_normalization = base.info.dataset.key_normalized if base.info.dataset else True
    recipe = CorpusRecipe("bach", limit=int(st.session_state[state.TRAIN_PIECES]),
                          validation_fraction=QUICK_VALIDATION, key_normalization=key_normalization, skip_held_out=True)
    return recipe if base is None else replace(recipe, encoding=base.encoding)


def for_fine_tuning(dataset: Dataset, base: ModelBundle) -> Dataset:
    """The Dataset page's dataset as the model to fine-tune reads music: its encoding, its keys."""
    normalize = bool(base.info.dataset and base.info.dataset.key_normalized) and not dataset.key_normalized
    if normalize:
        dataset = replace(dataset, train=tuple(normalize_key(s) for s in dataset.train),
                          validation=tuple(normalize_key(s) for s in dataset.validation), key_normalized=True)
    return replace(dataset, encoding=base.encoding)


def start_job(dataset: Dataset | CorpusRecipe | ShardSet, resume_from: ModelBundle | None = None,
              resume_optimizer: OptimizerState | None = None) -> TrainingJob:
    """Start training ``dataset`` with the page's settings; the job becomes the session's.

    With a shipped model to fine-tune (and no stopped run to resume), the run starts from its weights and
    keeps its architecture and encoding (prepared shards must be in that encoding: they are written once).

    Raises
    ------
    BadConfig
        Shards in another encoding than the model to fine-tune, or shards with transposition asked for.
    """
    model_config, train_config = current_configs()
    base = fine_tune_base() if resume_from is None else None
    if isinstance(dataset, ShardSet):
        wanted = base.encoding if base is not None else (resume_from.encoding if resume_from is not None else None)
        if wanted is not None and dataset.encoding != wanted:
            raise BadConfig(f"these shards are in the {dataset.encoding.name} encoding (grid "
                            f"{dataset.encoding.steps_per_quarter}); the model reads {wanted.name} (grid "
                            f"{wanted.steps_per_quarter}). Prepare them again with its encoding, or train a new model")
        if train_config.transpose_semitones:
            raise BadConfig("shards cannot be transposed while training: set Transpose to 0, or prepare them with "
                            "the keys you want")
    if base is not None:  # its architecture, and windows as long as its attention was trained on
        model_config, resume_from = base.model, base
        train_config = replace(train_config, sequence_length=base.model.context)
        if isinstance(dataset, Dataset):
            dataset = for_fine_tuning(dataset, base)
    job = TrainingJob(dataset, model_config, train_config, name=st.session_state[state.TRAIN_NAME] or DEFAULT_NAME,
                      resume_from=resume_from, resume_optimizer=resume_optimizer,
                      sample_every=int(st.session_state[state.TRAIN_SAMPLE_EVERY]))
    st.session_state[state.TRAIN_JOB] = job.start()
    return job
