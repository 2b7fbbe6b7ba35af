"""Cached loaders: heavy resources once per process, results per input."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

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


#: Basic Pitch's activations kept per process, by recording (10 minutes of audio hold about 54 MB).
ANALYSIS_CACHE_BYTES = 256 * 1024 * 1024
_analyses: OrderedDict[tuple, Any] = OrderedDict()
_analysis_locks: dict[tuple, threading.Lock] = {}
_analyses_lock = threading.Lock()


def analyze_cached(data: bytes, name: str, max_seconds: float, on_progress: Callable[[float], None] | None = None):
    """Basic Pitch activations per recording: changing settings later re-runs only note creation.

    Not ``st.cache_data``: that cache records the Streamlit calls a function makes
    and replays them on a hit, so a progress bar drawn from inside it crashed every
    second analysis of a recording (``CacheReplayClosureError``: "Re-run with
    current settings", or two users uploading the same file).  Here the progress
    callback is plain Python, and a recording that several sessions send at once
    is analysed once: the others wait for that run and share its result.
    """
    from ..transcribe import analyze_audio

    key = (hashlib.sha256(data).hexdigest(), Path(name).suffix.lower(), float(max_seconds))
    with _analyses_lock:
        lock = _analysis_locks.setdefault(key, threading.Lock())
    with lock:
        with _analyses_lock:
            hit = _analyses.get(key)
            if hit is not None:
                _analyses.move_to_end(key)
        if hit is None:
            basic_pitch_model()
            try:
                hit = analyze_audio(data, name=name, max_seconds=max_seconds, on_progress=on_progress)
            except BaseException:
                with _analyses_lock:
                    _analysis_locks.pop(key, None)  # a bad upload leaves nothing behind
                raise
            with _analyses_lock:
                _analyses[key] = hit
                while len(_analyses) > 1 and sum(_analysis_bytes(a) for a in _analyses.values()) > ANALYSIS_CACHE_BYTES:
                    _analysis_locks.pop(next(iter(_analyses)), None)
                    _analyses.popitem(last=False)
        elif on_progress is not None:
            on_progress(1.0)
    return hit if hit.name == name else replace(hit, name=name)


def _analysis_bytes(analysis) -> int:
    return sum(a.nbytes for a in analysis.model_output().values())


@st.cache_data(show_spinner="Engraving…", max_entries=16)
def sheet_music_cached(score_json: str, title: str) -> tuple[bytes, list[str]]:
    """MusicXML and its SVG pages for a Score."""
    from ..corpus import score_to_musicxml
    from ..notation import musicxml_to_svg_pages

    xml = score_to_musicxml(Score.from_json(score_json), title=title)
    return xml, musicxml_to_svg_pages(xml)
