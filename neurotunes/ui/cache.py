"""Cached loaders: heavy resources once per process, results per input."""

from __future__ import annotations

import streamlit as st

from ..bundle import ModelBundle, load_bundle
from ..score import Score
from . import state


@st.cache_resource(show_spinner="Loading the model…")
def shipped_bundle(name: str = "default") -> ModelBundle:
    return load_bundle(name)


def bundle_for(name: str) -> ModelBundle:
    """A model by name: a shipped one or one trained or loaded in this session."""
    from ..constants import SHIPPED_MODELS

    if name in SHIPPED_MODELS:
        return shipped_bundle(name)
    return state.trained_models()[name]


def current_bundle() -> ModelBundle:
    """The model chosen on the Generate page."""
    return bundle_for(state.active_model())


def model_label(name: str) -> str:
    from ..constants import SHIPPED_MODELS

    return SHIPPED_MODELS[name][0] if name in SHIPPED_MODELS else name


@st.cache_resource(show_spinner="Loading Basic Pitch…")
def basic_pitch_model():
    from ..transcribe import load_basic_pitch

    return load_basic_pitch()


@st.cache_data(show_spinner=False, max_entries=32)
def render_cached(score_json: str, fmt: str = "mp3", soundfont: str | None = None, reverb: bool = True,
                  chorus: bool = False) -> bytes:
    """Rendered audio of a Score (keyed by its JSON and the sound settings), as MP3 or WAV bytes."""
    from ..render import score_to_mp3, score_to_wav

    score = Score.from_json(score_json)
    encode = score_to_mp3 if fmt == "mp3" else score_to_wav
    return encode(score, soundfont=soundfont, reverb=reverb, chorus=chorus)


def render_current(score_json: str, fmt: str = "mp3") -> bytes:
    """Render with the soundfont, reverb and chorus chosen in the sidebar."""
    sound = state.sound()
    return render_cached(score_json, fmt, sound.soundfont, sound.reverb, sound.chorus)


@st.cache_data(show_spinner=False, max_entries=64)
def midi_cached(score_json: str) -> bytes:
    from ..midi_io import score_to_midi

    return score_to_midi(Score.from_json(score_json))


@st.cache_data(show_spinner=False, max_entries=16)
def analyze_cached(data: bytes, name: str, max_seconds: float, _on_progress=None):
    """Basic Pitch activations per recording: changing settings later re-runs only note creation."""
    from ..transcribe import analyze_audio

    basic_pitch_model()
    return analyze_audio(data, name=name, max_seconds=max_seconds, on_progress=_on_progress)


@st.cache_data(show_spinner="Engraving…", max_entries=16)
def sheet_music_cached(score_json: str, title: str) -> tuple[bytes, list[str]]:
    """MusicXML and its SVG pages for a Score."""
    from ..corpus import score_to_musicxml
    from ..notation import musicxml_to_svg_pages

    xml = score_to_musicxml(Score.from_json(score_json), title=title)
    return xml, musicxml_to_svg_pages(xml)
