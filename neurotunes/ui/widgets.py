"""Widgets shared by pages: a piece shown as piano roll + player + downloads."""

from __future__ import annotations

import re
from typing import Callable, TypeVar

import streamlit as st

from ..errors import NeuroTunesError
from ..score import Score
from . import cache

T = TypeVar("T")


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "neurotunes"


def guarded(action: Callable[[], T], *, what: str) -> T | None:
    """Run ``action``; show a user-facing error instead of a traceback, keep the page alive."""
    try:
        return action()
    except NeuroTunesError as exc:
        st.error(f"{what}: {exc}")
    except MemoryError:
        st.error(f"{what}: the input is too large for this machine")
    return None


def show_score(score: Score, *, key: str, file_stem: str, primer_notes: int = 0, title: str | None = None) -> None:
    """Piano roll beside an audio player, with MIDI / WAV (and MP3) downloads."""
    from ..plotting import piano_roll

    score_json = score.to_json()
    roll, side = st.columns([3, 2], vertical_alignment="top")
    with roll:
        st.plotly_chart(
            piano_roll(score, title=title, primer_notes=primer_notes), use_container_width=True, key=f"{key}_roll"
        )
    with side:
        info = score.summary()
        st.caption(
            f"{info['notes']} notes · {info['pitch_range']} · {info['duration_s']:.1f} s · {info['tempo_bpm']:g} BPM"
        )
        mp3 = guarded(lambda: cache.render_current(score_json, "mp3"), what="Rendering audio failed")
        if mp3 is not None:
            st.audio(mp3, format="audio/mpeg")
        stem = slug(file_stem)
        c1, c2 = st.columns(2)
        c1.download_button(
            "MIDI", cache.midi_cached(score_json), file_name=f"{stem}.mid", mime="audio/midi",
            key=f"{key}_dl_mid", icon=":material/download:", use_container_width=True,
        )
        if mp3 is not None:
            c2.download_button(
                "MP3", mp3, file_name=f"{stem}.mp3", mime="audio/mpeg",
                key=f"{key}_dl_mp3", icon=":material/download:", use_container_width=True,
            )
            wav = guarded(lambda: cache.render_current(score_json, "wav"), what="Rendering WAV failed")
            if wav is not None:
                st.download_button(
                    "WAV (44.1 kHz)", wav, file_name=f"{stem}.wav", mime="audio/wav",
                    key=f"{key}_dl_wav", icon=":material/download:", use_container_width=True,
                )
        show_sheet = st.toggle("Sheet music", key=f"{key}_sheet")
    if show_sheet:
        sheet = guarded(lambda: cache.sheet_music_cached(score_json, title or file_stem), what="Engraving failed")
        if sheet is not None:
            xml, pages = sheet
            st.download_button("MusicXML", xml, file_name=f"{stem}.musicxml",
                               mime="application/vnd.recordare.musicxml+xml", key=f"{key}_dl_xml",
                               icon=":material/download:")
            for page in pages:
                st.image(page, use_container_width=True)
