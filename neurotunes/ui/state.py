"""Session-state keys and accessors: everything the user made lives here.

Pages never invent keys; they call these helpers so nothing the user made is
lost when they move between pages or a widget re-runs the script.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ..config import GenerateConfig
from ..constants import SHIPPED_MODELS
from ..generate import Generation
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
TRAIN_WINDOW = "nt_train_window"  # tokens per training window (and attention context)
TRAIN_START_FROM = "nt_train_start_from"  # a new model, or a shipped model to fine-tune
TRAIN_SHARDS = "nt_train_shards"  # the prepared shards folder to train on (a name under shards_root())
#: The Train page's settings, kept across refreshes (neurotunes.ui.persist).
TRAIN_SETTINGS = (TRAIN_SOURCE, TRAIN_PIECES, TRAIN_KEY_NORMALIZE, TRAIN_PRESET, TRAIN_EPOCHS, TRAIN_TRANSPOSE,
                  TRAIN_ARCH, TRAIN_LAYERS, TRAIN_UNITS, TRAIN_DROPOUT, TRAIN_EMBEDDING, TRAIN_LR, TRAIN_SCHEDULE,
                  TRAIN_PATIENCE, TRAIN_SAMPLE_EVERY, TRAIN_NAME, TRAIN_WINDOW, TRAIN_START_FROM)
TAKE_SHOWN = "gen_pick"  # the number of the take shown on the Generate page (its radio's key)
TAKE_TO_SHOW = "gen_select_next"  # a take just made, to show on the page's next draw
GENERATE_FORM = "gen_form"  # the Generate page's settings box (not an st.form: every change is kept at once)
GENERATE_BUTTON = "nt_generate"
#: The model whose suggested settings the Generate form holds (a shipped name or a trained model's key): when the
#: chosen model is another one, the form takes that model's suggestions (widgets.follow_model_suggestions).
SUGGESTED_FOR = "gen_suggested_for"
SHARE_APPLIED = "gen_share_applied"  # the share link last opened (sorted items): opened once, not on every rerun
TAKES_AT_ONCE = "gen_takes_at_once"  # the Generate page's "Takes at once"
SHARED_TAKE = "gen_shared_take"  # (number, settings the form cannot hold) of a share link's take, while it is shown
LINK_CLOSED = "gen_link_closed"  # the take whose share link "Make your own" closed: kept out of the address bar
TAKE_SCROLL = "gen_scroll_to"  # a take Generate or Continue just made: scrolled into view once
PRIMER_SOURCE = "gen_primer_source"  # the Generate page's primer: where it comes from, and its inputs
PRIMER_MIDI = "gen_primer_midi"
PRIMER_TRANSCRIPTION = "gen_primer_transcription"
COMPARE = "gen_compare"  # the Generate page's "Compare with another take" switch
# The Transcribe page: the preset, the recorder, and the widget key of each TranscribeConfig /
# PostProcessConfig setting (by field name), so a preset can set them all at once.
TRANSCRIBE_PRESET = "tr_preset"
TRANSCRIBE_MIC = "tr_mic"
TRANSCRIBE_SETTINGS = {
    "onset_threshold": "tr_onset", "frame_threshold": "tr_frame", "minimum_note_length_ms": "tr_min_ms",
    "minimum_frequency": "tr_fmin", "maximum_frequency": "tr_fmax", "midi_tempo": "tr_tempo",
    "melodia_trick": "tr_melodia", "multiple_pitch_bends": "tr_bends",
    "quantize": "tr_quantize", "monophonic": "tr_mono", "min_note_ms": "tr_drop_ms",
    "normalize_velocity": "tr_velnorm",
}
# The Dataset page's choices (widget keys), by what they choose.
DATASET_SETTINGS = {"corpora": "ds_corpora", "per_corpus": "ds_per_corpus", "encoding": "ds_encoding",
                    "key_normalization": "ds_key_norm", "tempo_normalization": "ds_tempo_norm",
                    "validation": "ds_validation"}
HARMONIZE_SOURCE = "hz_source"  # the Harmonize page: where the melody comes from, the model, seed and temperature
HARMONIZE_MODEL = "hz_model"
HARMONIZE_SEED = "hz_seed"
HARMONIZE_TEMPERATURE = "hz_temperature"
HARMONIZE_TAKE = "hz_take"
HARMONIZE_TRANSCRIPTION = "hz_transcription"
HARMONIZE_SETTINGS = (HARMONIZE_SOURCE, HARMONIZE_MODEL, HARMONIZE_SEED, HARMONIZE_TEMPERATURE)
CHORALE = "hz_chorale"  # the last harmonization: (its name, neurotunes.harmonize.Harmonization)
HARMONIZE_LINK_APPLIED = "hz_link_applied"  # the harmonization link last opened (sorted items): opened once
HARMONIZE_SHARED = "hz_shared"  # the HarmonizationLink whose chorale is shown, while its banner is up
HARMONIZE_SHARED_MELODY = "hz_shared_melody"  # the melody a share link brought (a Score): a source from then on
KEPT = "nt_kept"  # neurotunes.ui.persist's record of what is kept on the server for this browser
TRAIN_STOP = "stop_training"  # the running job's Stop button
EVALUATE_FORM = "evaluate_form"  # the Evaluate page's settings box (not an st.form, like Generate's)
EVALUATE_BUTTON = "nt_evaluate"
EVALUATE_SAMPLES = "eval_samples"
EVALUATE_NOTES = "eval_notes"
EVALUATE_MODELS = "eval_models"  # the models to evaluate (outside the form: the reference follows them)
EVALUATE_REFERENCE = "eval_reference"  # the set of real pieces to compare with
TRAIN_USE_MODEL = "train_use"  # a trained model's "Use this model" button (item_key by model)
EVALUATE_LISTEN_MODEL = "eval_listen_model"
EVALUATE_LISTEN_PIECE = "eval_listen_piece"
GALLERY_PAGE = "g_page"  # the Gallery's page number (its pagination's key)
GALLERY_OPERATOR = "g_operator"  # the operator password typed on the Gallery page
SOUNDFONT_UPLOAD = "sf_upload"
# Per-item widgets: item_key(what, item) for a transcription's, track's, model's or chart's widget.
TRANSCRIPTION_SCORE, TRANSCRIPTION_ADD, TRANSCRIPTION_RERUN, TRANSCRIPTION_REMOVE = "tr", "add", "rerun", "rm"
TRANSCRIPTION_AB = "tr_ab"  # a transcription's A/B switch when the recording is too long for the one-player switch
TRACK_LISTEN, TRACK_MIDI, TRACK_MP3, TRACK_DELETE = "g_listen", "g_mid", "g_mp3", "g_del"
TRAIN_CHECKPOINT, TRAIN_SAMPLE, TRAIN_DOWNLOAD, TRAIN_CHART = "ckpt", "sample", "dl", "train"
EVALUATE_CHART, EVALUATE_PIECE = "eval", "eval"

DEFAULT_MODEL = "default"


GENERATE_PAGE = "gen"
EVALUATE_PAGE = "eval"


def setting_key(name: str, page: str = GENERATE_PAGE) -> str:
    """The widget key of setting ``name`` (a config field) on ``page`` (:data:`GENERATE_PAGE`, ...)."""
    return f"{page}_{name}"


def item_key(what: str, item: object) -> str:
    """The key of a widget that belongs to one item of a list (``what``: one of the per-item names above)."""
    return f"{what}_{item}"


def take_key(what: str, number: int) -> str:
    """The key of a widget that belongs to one take (``what``: "score", "save", "trace", "compare", ...)."""
    return f"gen_{what}_{number}"


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
    config: GenerateConfig  # the settings it was made with (its seed included)
    trace: list[Any] = field(default_factory=list)  # neurotunes.generate.StepTrace per generated token
    parent: int | None = None  # the take this one continues
    model_key: str = ""  # a shipped model's name or a key of trained_models(), for share links
    primed: bool = False  # started from a primer (cannot be shared as a link)
    #: Who it is for the server's copy of the session: two tabs of one browser both number their takes 1, 2, ...
    uid: str = field(default_factory=lambda: secrets.token_hex(8))
    parent_uid: str | None = None  # the uid of the take it continues (its number may change when tabs merge)


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


def keep_take(made: Generation, *, model_name: str, model_key: str, parent: int | None = None,
              primed: bool = False) -> Take:
    """Add a generated take to the session, numbered after the others, and show it on the page's next draw."""
    kept = takes()
    number = max((t.number for t in kept), default=0) + 1
    parent_uid = next((t.uid for t in kept if t.number == parent), None) if parent is not None else None
    take = Take(number, made.score, model_name, made.config, made.trace, parent, model_key=model_key, primed=primed,
                parent_uid=parent_uid)
    kept.append(take)
    st.session_state[TAKE_TO_SHOW] = number
    return take


def take_shown() -> Take:
    """The take the Generate page shows: one just made, else the one viewed before, else the newest.

    Sets :data:`TAKE_SHOWN` (the key of the page's radio) to its number; call it before the radio is drawn.
    """
    kept = takes()
    numbers = [t.number for t in kept]
    if st.session_state.get(TAKE_TO_SHOW) in numbers:  # a take just made: show it, not the one viewed before
        st.session_state[TAKE_SHOWN] = st.session_state.pop(TAKE_TO_SHOW)
    if st.session_state.get(TAKE_SHOWN) not in numbers:
        st.session_state[TAKE_SHOWN] = numbers[-1]
    return next(t for t in kept if t.number == st.session_state[TAKE_SHOWN])


def model_available(name: str) -> bool:
    """Whether ``name`` is a shipped model or one trained or loaded in this session (not since removed)."""
    return name in SHIPPED_MODELS or name in trained_models()


def active_model() -> str:
    """The chosen model: a shipped model's name or a key of :func:`trained_models`."""
    name = _get(ACTIVE_MODEL, lambda: DEFAULT_MODEL)
    if not model_available(name):
        st.session_state[ACTIVE_MODEL] = DEFAULT_MODEL
        return DEFAULT_MODEL
    return name


def set_active_model(name: str) -> None:
    st.session_state[ACTIVE_MODEL] = name
