"""Cached loaders: heavy resources once per process, results per input."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from ..bundle import ModelBundle, load_bundle
from ..constants import SHIPPED_MODELS, shipped_name
from ..corpus import score_to_musicxml, voices_to_musicxml
from ..generate import compose
from ..midi_io import score_to_midi
from ..notation import musicxml_to_svg_pages
from ..render import score_to_mp3, score_to_wav
from ..score import Score
from ..transcribe import analyze_audio, load_basic_pitch
from . import state


@st.cache_resource(show_spinner="Loading the model…")
def shipped_bundle(name: str = "default") -> ModelBundle:
    return load_bundle(name)


def bundle_for(name: str) -> ModelBundle:
    """A model by name: a shipped one or one trained or loaded in this session."""
    shipped = shipped_name(name)
    if shipped:
        return shipped_bundle(shipped)
    return state.trained_models()[name]


def current_bundle() -> ModelBundle:
    """The model chosen on the Generate page."""
    return bundle_for(state.active_model())


def model_label(name: str) -> str:
    return SHIPPED_MODELS[name][0] if name in SHIPPED_MODELS else name


@st.cache_resource(show_spinner="Loading Basic Pitch…")
def basic_pitch_model():
    return load_basic_pitch()


@st.cache_data(show_spinner=False, max_entries=32)
def render_cached(score_json: str, fmt: str = "mp3", soundfont: str | None = None, reverb: bool = True,
                  chorus: bool = False) -> bytes:
    """Rendered audio of a Score (keyed by its JSON and the sound settings), as MP3 or WAV bytes."""
    score = Score.from_json(score_json)
    encode = score_to_mp3 if fmt == "mp3" else score_to_wav
    return encode(score, soundfont=soundfont, reverb=reverb, chorus=chorus)


def render_current(score_json: str, fmt: str = "mp3") -> bytes:
    """Render with the soundfont, reverb and chorus chosen in the sidebar."""
    sound = state.sound()
    return render_cached(score_json, fmt, sound.soundfont, sound.reverb, sound.chorus)


@st.cache_data(show_spinner=False, max_entries=64)
def midi_cached(score_json: str, voices: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> bytes:
    """MIDI of a Score; with ``voices`` ((name, note indices) each) one named track per voice."""
    return score_to_midi(Score.from_json(score_json), voices=voices)


class SharedResults:
    """Results computed once per key and shared by every session of the server process.

    Not ``st.cache_data``: that cache records the Streamlit calls a function makes
    and replays them on a hit, so a progress bar drawn from inside it crashed every
    second analysis of a recording (``CacheReplayClosureError``: "Re-run with
    current settings", or two users uploading the same file).  Here progress is
    plain Python, and a key that several sessions ask for at once is computed once:
    the others wait for that run and share its result.  The oldest results go
    first once their total ``size`` passes ``capacity``.
    """

    def __init__(self, capacity: float, size: Callable[[Any], float] = lambda value: 1):
        self.capacity, self.size = capacity, size
        self._values: OrderedDict[Any, Any] = OrderedDict()
        self._locks: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """``(value, computed_now)``: the stored value for ``key``, or ``compute()``'s (an exception keeps nothing)."""
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key], False
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._locks.pop(key, None)  # a bad input leaves nothing behind
                raise
            with self._lock:
                self._values[key] = value
                while len(self._values) > 1 and sum(map(self.size, self._values.values())) > self.capacity:
                    oldest, _ = self._values.popitem(last=False)
                    self._locks.pop(oldest, None)
            return value, True


#: Basic Pitch's activations per recording (10 minutes of audio hold about 54 MB).
ANALYSIS_CACHE_BYTES = 256 * 1024 * 1024
_analyses = SharedResults(ANALYSIS_CACHE_BYTES, size=lambda a: sum(x.nbytes for x in a.model_output().values()))


def analyze_cached(data: bytes, name: str, max_seconds: float, on_progress: Callable[[float], None] | None = None,
                   guard: Callable[[], Any] = nullcontext):
    """Basic Pitch activations per recording: changing settings later re-runs only note creation.

    ``guard()`` is a context the analysis runs in (a place in the server's line of heavy jobs).
    """
    def compute():
        basic_pitch_model()
        with guard():
            return analyze_audio(data, name=name, max_seconds=max_seconds, on_progress=on_progress)

    key = (hashlib.sha256(data).hexdigest(), Path(name).suffix.lower(), float(max_seconds))
    analysis, _ = _analyses.get(key, compute)
    return analysis if analysis.name == name else replace(analysis, name=name)


#: Takes that share links describe: each link is composed once per server, however many visitors open it.
_shared_takes = SharedResults(64)


def shared_take(model: str, config, *, guard: Callable[[], Any] = nullcontext):
    """The take a share link names (a shipped model, no primer): a :class:`neurotunes.generate.Generation`.

    ``guard()`` is a context the composing runs in (a place in the server's line of heavy jobs);
    a link already composed is served at once.
    """
    bundle = shipped_bundle(model)

    def compute():
        with guard():
            return compose(bundle, config, traced=True)[0]

    return _shared_takes.get((bundle.hash, json.dumps(config.to_dict(), sort_keys=True)), compute)[0]


@st.cache_data(show_spinner="Engraving…", max_entries=16)
def sheet_music_cached(score_json: str, title: str,
                       voices: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> tuple[bytes, list[str]]:
    """MusicXML and its SVG pages for a Score: a piano's two staves, or one staff per voice of ``voices``."""
    score = Score.from_json(score_json)
    if voices:
        xml = voices_to_musicxml(score, [(name, score.with_notes(score.notes[i] for i in indices))
                                         for name, indices in voices], title=title)
    else:
        xml = score_to_musicxml(score, title=title)
    return xml, musicxml_to_svg_pages(xml)
