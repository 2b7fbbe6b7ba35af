"""The Transcribe page's settings and its one action: presets into widgets, widgets into configs,
a recording into a checked :class:`~neurotunes.ui.state.Transcription`.

Each setting's widget is keyed by :data:`neurotunes.ui.state.TRANSCRIBE_SETTINGS` (by the
config field it sets), so a preset sets every widget at once and the page's values
are read back into the configs field by field.
"""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from ..config import PostProcessConfig, TranscribeConfig
from ..transcribe import PRESETS, notes_from_analysis
from . import cache, state
from .widgets import guarded, heavy_job

DEFAULT_PRESET = next(iter(PRESETS))
#: Settings whose "none" the page shows as 0 (a number input cannot hold None).
_ZERO_IS_NONE = frozenset({"minimum_frequency", "maximum_frequency"})
_TRANSCRIBE_FIELDS = frozenset(f.name for f in fields(TranscribeConfig))


def apply_preset() -> None:
    """Set every setting's widget to the chosen preset's value."""
    config, post = PRESETS[st.session_state[state.TRANSCRIBE_PRESET]]
    values = {**config.to_dict(), **post.to_dict()}
    st.session_state.update({
        key: float(values[name] or 0) if name in _ZERO_IS_NONE else values[name]
        for name, key in state.TRANSCRIBE_SETTINGS.items()
    })


def start_with_defaults() -> None:
    """The first time in a session, the widgets start from the first preset."""
    if any(key not in st.session_state for key in state.TRANSCRIBE_SETTINGS.values()):
        st.session_state[state.TRANSCRIBE_PRESET] = DEFAULT_PRESET
        apply_preset()


def current_settings() -> tuple[TranscribeConfig, PostProcessConfig]:
    """The configs the widgets describe (settings without a widget keep their defaults)."""
    values = {name: st.session_state[key] for name, key in state.TRANSCRIBE_SETTINGS.items()}
    values.update({name: values[name] or None for name in _ZERO_IS_NONE})
    config = TranscribeConfig(**{k: v for k, v in values.items() if k in _TRANSCRIBE_FIELDS})
    post = PostProcessConfig(**{k: v for k, v in values.items() if k not in _TRANSCRIBE_FIELDS})
    return config, post


def transcribe_into_session(name: str, data: bytes) -> None:
    """Analyze (cached per recording) and create notes with the current settings; the result replaces
    ``name``'s transcription (and leaves the dataset until accepted again).  A failure is shown, naming
    the file, and the other transcriptions are kept."""
    config, post = current_settings()
    bar = st.progress(0.0, text=f"Transcribing {name}…")

    def run():
        analysis = cache.analyze_cached(data, name, config.max_seconds, guard=lambda: heavy_job("Transcribing"),
                                        on_progress=lambda f: bar.progress(f, text=f"Transcribing {name}…"))
        return notes_from_analysis(analysis, config, post)

    score = guarded(run, what=f"Could not transcribe {name}")
    bar.empty()
    if score is not None:
        state.transcriptions()[name] = state.Transcription(name, data, score, {**config.to_dict(), **post.to_dict()})
        state.dataset().pop(name, None)  # a changed transcription must be accepted again
