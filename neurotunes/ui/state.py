"""Session-state keys and accessors: everything the user made lives here.

Pages never invent keys; they call these helpers so nothing the user made is
lost when they move between pages or a widget re-runs the script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ..score import Score

TRANSCRIPTIONS = "nt_transcriptions"  # dict name -> Transcription
DATASET = "nt_dataset"  # dict name -> Score accepted for training
TRAINED_MODELS = "nt_trained_models"  # dict name -> ModelBundle trained or uploaded this session
ACTIVE_MODEL = "nt_active_model"  # "default" or a key of TRAINED_MODELS
TAKES = "nt_takes"  # list of Take, newest last
TRAIN_JOB = "nt_train_job"  # the TrainingJob of this session (running or finished)
BUILT_DATASET = "nt_built_dataset"  # the Dataset built on the Dataset page
SOUND = "nt_sound"  # SoundSettings: soundfont and reverb for every rendering
EVALUATION = "nt_evaluation"  # the last neurotunes.evaluate.Evaluation of this session
# The Train page's settings (widget keys, kept across page switches with persist_state="session").
TRAIN_SOURCE = "nt_train_source"
TRAIN_PIECES = "nt_train_pieces"
TRAIN_KEY_NORMALIZE = "nt_train_key_normalize"
TRAIN_PRESET = "nt_train_preset"
TRAIN_EPOCHS = "nt_train_epochs"
TRAIN_TRANSPOSE = "nt_train_transpose"
TRAIN_ARCH = "nt_train_arch"
TRAIN_LAYERS = "nt_train_layers"
TRAIN_UNITS = "nt_train_units"
TRAIN_DROPOUT = "nt_train_dropout"
TRAIN_EMBEDDING = "nt_train_embedding"
TRAIN_LR = "nt_train_lr"
TRAIN_SCHEDULE = "nt_train_schedule"
TRAIN_PATIENCE = "nt_train_patience"
TRAIN_SAMPLE_EVERY = "nt_train_sample_every"
TRAIN_NAME = "nt_train_name"
TAKE_SHOWN = "gen_pick"  # the number of the take shown on the Generate page (its radio's key)
TAKE_TO_SHOW = "gen_select_next"  # a take just made, to show on the page's next draw

DEFAULT_MODEL = "default"


@dataclass
class Transcription:
    name: str
    audio: bytes
    score: Score
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Take:
    number: int
    score: Score
    model_name: str
    settings: dict[str, Any]
    trace: list[Any] = field(default_factory=list)  # neurotunes.generate.StepTrace per generated token
    parent: int | None = None  # the take this one continues
    model_key: str = ""  # a shipped model's name or a key of trained_models(), for share links
    primed: bool = False  # started from a primer (cannot be shared as a link)


@dataclass
class SoundSettings:
    soundfont: str | None = None  # a path; None = the default (FluidR3_GM if installed, else TimGM6mb)
    reverb: bool = True
    chorus: bool = False


def sound() -> SoundSettings:
    return _get(SOUND, SoundSettings)


def _get(key: str, factory):
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def transcriptions() -> dict[str, Transcription]:
    return _get(TRANSCRIPTIONS, dict)


def dataset() -> dict[str, Score]:
    return _get(DATASET, dict)


def trained_models() -> dict[str, Any]:
    return _get(TRAINED_MODELS, dict)


def takes() -> list[Take]:
    return _get(TAKES, list)


def active_model() -> str:
    """The chosen model: a shipped model's name or a key of :func:`trained_models`."""
    from ..constants import SHIPPED_MODELS

    name = _get(ACTIVE_MODEL, lambda: DEFAULT_MODEL)
    if name not in SHIPPED_MODELS and name not in trained_models():
        st.session_state[ACTIVE_MODEL] = DEFAULT_MODEL
        return DEFAULT_MODEL
    return name


def set_active_model(name: str) -> None:
    st.session_state[ACTIVE_MODEL] = name
