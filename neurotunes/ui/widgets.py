"""Widgets shared by pages: a piece shown as piano roll + player + downloads."""

from __future__ import annotations

import logging
import re
import secrets
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable, Collection, Iterator, Mapping, TypeVar
from urllib.parse import urlencode

import streamlit as st

from .. import constants as C
from ..config import GenerateConfig, settings_of
from ..errors import NeuroTunesError
from ..metrics import repetition_stats
from ..midi_io import gm_program_names
from ..plotting import TIME_UNITS, piano_roll
from ..render import score_to_wav
from ..score import Score, pitch_name
from ..share import share_params
from . import cache, state
from .player import play_along
from .queue import HEAVY_JOBS, PRIORITY, ordinal

T = TypeVar("T")
log = logging.getLogger(__name__)


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "neurotunes"


def guarded(action: Callable[[], T], *, what: str) -> T | None:
    """Run ``action``; show a user-facing error instead of a traceback, keep the page alive.

    A NeuroTunesError is the user's to fix and is shown as it is (server paths
    reduced to file names); anything else is our bug: :func:`show_unexpected`.
    """
    try:
        return action()
    except NeuroTunesError as exc:
        st.error(f"{what}: {without_paths(str(exc))}")
    except MemoryError:
        st.error(f"{what}: the input is too large for this machine")
    except Exception:  # Streamlit's rerun/stop signals are BaseException and pass through
        show_unexpected(what)
    return None


def show_unexpected(what: str) -> str:
    """Log the exception being handled with a short error id and show the user one friendly line; the id."""
    error_id = secrets.token_hex(4)
    log.exception("error id %s (%s)", error_id, what)
    st.error(f"{what}: something went wrong on our side (error id {error_id}). Nothing you made is lost; "
             "try again, and quote the id if you report it.", icon=":material/error:")
    return error_id


@contextmanager
def heavy_job(what: str) -> Iterator[None]:
    """Run the block in one of the server's few heavy-job slots; while it waits, say its place in line."""
    note = st.empty()

    def on_wait(place: int) -> None:
        note.info(f"{what}: the server is busy with other users' work. You are {ordinal(place)} in line…",
                  icon=":material/hourglass_top:")

    with HEAVY_JOBS.slot(on_wait, priority=PRIORITY.get(what, max(PRIORITY.values()))):
        note.empty()
        yield


#: An absolute path in a message: a slash at the start of a word, at least two segments.
_ABSOLUTE_PATH = re.compile(r"(?<![\w/.:])/(?:[^\s/'\"()]+/)+([^\s/'\"()]+)")


def without_paths(message: str) -> str:
    """``message`` with every absolute path reduced to its file name: no server path reaches a visitor."""
    return _ABSOLUTE_PATH.sub(r"\1", message)


def show_score(score: Score, *, key: str, file_stem: str, primer_notes: int = 0, title: str | None = None,
               playback_controls: bool = True, voices: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> None:
    """The piece to hear and see: audio with a play-along piano roll, a zoomable Plotly roll, downloads.

    With ``playback_controls`` the user can give each track another General MIDI
    instrument and change the tempo; the audio, rolls and downloads follow.  With ``voices`` ((name, note
    indices) each: a chorale's soprano, alto, ...) the MIDI has a track per voice and the sheet music a staff.
    """
    roll, side = st.columns([3, 2], vertical_alignment="top")
    with side:
        if playback_controls:
            score, changed = _playback_settings(score, key)
            if changed:
                file_stem = f"{file_stem}-{changed}"
        info = score.summary()
        st.caption(
            f"{info['notes']} notes · {info['pitch_range']} · {info['duration_s']:.1f} s · {info['tempo_bpm']:g} BPM"
        )
        unit = st.segmented_control("Time in", TIME_UNITS, default=TIME_UNITS[0], key=f"{key}_unit",
                                    help="Count the rolls' time in seconds or in beats (quarter notes).")
        unit = unit or TIME_UNITS[0]
    score_json = score.to_json()
    mp3 = guarded(lambda: cache.render_current(score_json, "mp3"), what="Rendering audio failed")
    with roll:
        play_tab, inspect_tab = st.tabs(["Play along", "Zoom and inspect"])
        with play_tab:
            if mp3 is not None:
                play_along(score, mp3, primer_notes=primer_notes, time_unit=unit)
            else:
                st.caption("No audio: the piano roll is under **Zoom and inspect**.")
        with inspect_tab:
            st.plotly_chart(piano_roll(score, title=title, primer_notes=primer_notes, time_unit=unit),
                            width="stretch", key=f"{key}_roll")
    with side:
        stem = slug(file_stem)
        c1, c2 = st.columns(2)
        c1.download_button(
            "MIDI", cache.midi_cached(score_json, voices), file_name=f"{stem}.mid", mime="audio/midi",
            key=f"{key}_dl_mid", icon=":material/download:", width="stretch",
            help="The notes as a MIDI file, for a notation program or a DAW (it carries its recipe).",
        )
        if mp3 is not None:
            c2.download_button(
                "MP3", mp3, file_name=f"{stem}.mp3", mime="audio/mpeg",
                key=f"{key}_dl_mp3", icon=":material/download:", width="stretch",
                help="The recording you hear here, as an MP3.",
            )
            # Rendered on click, on Streamlit's download thread: a WAV nobody asks for costs no CPU (about
            # 0.35 s a take, paid by every Generate before).  That thread has no session: settings go in now.
            sound = state.sound()
            st.download_button(
                "WAV (44.1 kHz)", partial(_wav, score_json, sound.soundfont, sound.reverb, sound.chorus),
                file_name=f"{stem}.wav", mime="audio/wav", key=f"{key}_dl_wav", icon=":material/download:",
                width="stretch", help="The recording in full quality (uncompressed, CD sample rate).",
            )
        show_sheet = sheet_music_toggle(key, voices=bool(voices))
    if show_sheet:
        sheet_music(score_json, title or file_stem, stem, key, voices)


def sheet_music_toggle(key: str, *, voices: bool = False) -> bool:
    """The "Sheet music" switch of the score shown under ``key``."""
    staves = "a staff per voice" if voices else "a piano staff (treble and bass)"
    return st.toggle("Sheet music", key=f"{key}_sheet",
                     help=f"Engrave the notes on {staves}, with a MusicXML download.")


def sheet_music(score_json: str, title: str, stem: str, key: str,
                voices: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> None:
    """The engraved pages of a score and its MusicXML download (engraved once per score, title and voices)."""
    sheet = guarded(lambda: cache.sheet_music_cached(score_json, title, voices), what="Engraving failed")
    if sheet is not None:
        xml, pages = sheet
        st.download_button("MusicXML", xml, file_name=f"{stem}.musicxml",
                           mime="application/vnd.recordare.musicxml+xml", key=f"{key}_dl_xml",
                           icon=":material/download:")
        for page in pages:
            st.image(page, width="stretch")


def _wav(score_json: str, soundfont: str | None, reverb: bool, chorus: bool) -> bytes:
    return score_to_wav(Score.from_json(score_json), soundfont=soundfont, reverb=reverb, chorus=chorus)


def instrument_select(container: Any, label: str, *, index: int = 0, key: str | None = None,
                      help: str | None = None) -> int:
    """A choice among the 128 General MIDI instruments, shown as "40: Violin"; the program number."""
    names = gm_program_names()
    return container.selectbox(label, range(C.MIDI_PROGRAM_MAX + 1), index=index,
                               format_func=lambda p: f"{p}: {names[p]}", key=key, help=help)


def share_link(take: state.Take, *, in_address_bar: bool = True) -> None:
    """The take's share link, shown and (unless ``in_address_bar`` is False) kept in the address bar;
    a take that cannot have one clears it.

    Only a take from a shipped model without a primer can be regenerated from settings alone.
    """
    kept = st.session_state.get(state.KEPT)
    if kept is not None and kept.off:  # "Delete everything kept on the server": a refresh must bring nothing back
        in_address_bar = False
        if "model" in st.query_params:
            st.query_params.clear()
    if take.model_key in C.SHIPPED_MODELS and not take.primed:
        params = share_params(take.model_key, cache.shipped_bundle(take.model_key).hash, take.config)
        if in_address_bar and st.query_params.to_dict() != params:
            st.query_params.from_dict(params)
            st.session_state[state.SHARE_APPLIED] = sorted(params.items())  # this link is the take shown
        base = (st.context.url or "").split("?", 1)[0]
        st.caption("Share link — opening it regenerates and plays this exact take:")
        st.code(f"{base}?{urlencode(params)}", language=None)
        return
    if "model" in st.query_params:  # the address bar must not keep another take's link
        st.query_params.clear()
        st.session_state.pop(state.SHARE_APPLIED, None)
    st.caption("Takes from a primer or from a model trained in this session cannot be shared as a link; "
               "download the MIDI instead (it carries its recipe).")


def setting_widgets(config_type: type, section: str, *, columns: int = 3,
                    extra_help: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Draw every setting of ``config_type`` declared for page ``section``, in a grid; ``{field name: value}``.

    The widgets come from the settings' declarations (:func:`neurotunes.config.setting`): a new
    setting appears here without touching the page.  ``extra_help`` adds a sentence to a
    setting's help (what it means for the model in use).
    """
    extra_help = extra_help or {}
    drawn = [name for name, about, _ in settings_of(config_type) if about.page == section and about.widget != "paired"]
    values: dict[str, Any] = {}
    for i, name in enumerate(drawn):
        if i % columns == 0:
            row = st.columns(columns)
        values.update(setting_widget(row[i % columns], config_type, name, extra_help=extra_help.get(name)))
    return values


def setting_widget(container: Any, config_type: type, name: str, *, page: str = state.GENERATE_PAGE,
                   extra_help: str | None = None) -> dict[str, Any]:
    """The widget of setting ``name`` of ``config_type``, as its declaration says, in ``container``.

    Returns ``{name: value}`` (both names for a two-ended widget).  ``page`` keeps the widget's
    key apart from the same setting's on another page.
    """
    declared = {n: (about, default) for n, about, default in settings_of(config_type)}
    about, default = declared[name]
    pair_default = declared[about.pair][1] if about.pair else None
    key, label = state.setting_key(name, page), about.label or name
    help = " ".join(filter(None, (about.help, extra_help)))
    low, high = about.page_range
    if about.widget == "instrument":
        return {name: instrument_select(container, label, index=default, key=key, help=help)}
    if about.widget == "pitch range":
        chosen = container.select_slider(label, options=list(range(int(low), int(high) + 1)), value=(low, high),
                                         format_func=pitch_name, key=key, help=help)
        # The whole slider is "no limit": the settings' defaults, so share links stay short.
        ends = (default, pair_default) if tuple(chosen) == (low, high) else chosen
        return {name: int(ends[0]), about.pair: int(ends[1])}
    if about.widget == "select" and about.choices:
        return {name: container.selectbox(label, about.choices, index=about.choices.index(default), key=key,
                                          help=help)}
    if about.widget == "select":  # whole numbers named by labels: 0 -> "C"
        return {name: container.selectbox(label, range(int(low), int(high) + 1), index=int(default - low),
                                          format_func=lambda v: about.labels[int(v - low)], key=key, help=help)}
    if about.kind is bool:
        return {name: container.toggle(label, value=default, key=key, help=help)}
    if about.kind is str:
        return {name: container.text_input(label, value=default, key=key, help=help)}
    step = about.step or (1 if about.kind is int else 0.01)
    cast = _number_cast(about, default)
    draw = container.number_input if about.widget == "number" else container.slider
    value = draw(label, cast(low), cast(high), cast(min(max(default, low), high)), cast(step), key=key, help=help)
    return {name: about.kind(value)}


def _number_cast(about: Any, default: Any) -> type:
    """Counted in whole numbers when the ends and the step are whole (tempo in BPM, seconds by 5)."""
    low, high = about.page_range
    step = about.step or (1 if about.kind is int else 0.01)
    return int if all(float(v).is_integer() for v in (low, high, step, default)) else float


def _on_the_grid(about: Any, default: Any, value: float) -> float:
    """``value`` as the page's widget can hold it: on its step grid from the low end (a slider snaps to it)."""
    cast = _number_cast(about, default)
    low, _ = about.page_range
    step = about.step or (1 if about.kind is int else 0.01)
    steps = (value - low) / step
    if abs(steps - round(steps)) < 1e-6:  # on the grid already: keep it exactly (no float noise)
        return cast(value)
    return cast(round(low + round(steps) * step, 6))


def fill_setting_widgets(config: Any, *, page: str = state.GENERATE_PAGE,
                         only: Collection[str] | None = None) -> list[str]:
    """Set the page's widget of every setting of ``config`` (a share link's) to its value, before they are drawn
    (``only``: of those settings alone).

    A value the page does not offer (outside its range, or between its slider's steps: a link or the
    CLI may use the library's whole range) is shown as the nearest one it does; the labels of those
    settings are returned, so the page can say so.  The whole Generate form filled holds the settings
    chosen for the model in use: its suggestions are not laid over them (:func:`follow_model_suggestions`).
    """
    if page == state.GENERATE_PAGE and only is None:
        st.session_state[state.SUGGESTED_FOR] = state.active_model()
    outside = []
    for name, about, default in settings_of(type(config)):
        if about.page is None or about.widget == "paired" or (only is not None and name not in only):
            continue
        key, value = state.setting_key(name, page), getattr(config, name)
        low, high = about.page_range
        if about.widget == "pitch range":
            ends = (value, getattr(config, about.pair))
            pair_default = next(d for n, _, d in settings_of(type(config)) if n == about.pair)
            if ends == (default, pair_default):  # "no limit": the whole slider
                st.session_state[key] = (int(low), int(high))
                continue
            held = tuple(int(min(max(v, low), high)) for v in ends)
            st.session_state[key] = held
        elif about.kind in (bool, str) or about.widget in ("select", "instrument"):
            st.session_state[key] = value
            continue
        else:
            held = _on_the_grid(about, default, min(max(value, low), high))
            st.session_state[key] = held
            ends = value
        if held != ends:
            outside.append(about.label or name)
    return outside


def follow_model_suggestions(model: str) -> None:
    """Give the Generate form the settings ``model`` suggests (``metrics.json``'s ``sampling``: pitch top-p 0.95
    for the four-voice Bach model) when it holds another model's, before the widgets are drawn.

    On a first visit and whenever another model is chosen, each setting the new model or the one before
    suggests goes to the new model's suggestion, or back to the default: a setting the user changed and
    no model suggests is left alone.  A share link or a gallery track fills the whole form
    (:func:`fill_setting_widgets`), so its settings stand.  A model that cannot be loaded suggests
    nothing (the page says why where it loads the model).
    """
    had = st.session_state.get(state.SUGGESTED_FOR)
    if had == model:
        return
    st.session_state[state.SUGGESTED_FOR] = model
    suggested = model_suggestions(model)
    names = set(suggested) | set(model_suggestions(had) if isinstance(had, str) and state.model_available(had) else {})
    if names:
        fill_setting_widgets(GenerateConfig.from_dict({**GenerateConfig().to_dict(), **suggested}), only=names)


def model_suggestions(model: str) -> dict[str, Any]:
    """The sampler settings ``model`` (a shipped name or a trained model's key) suggests; none when it cannot be
    loaded (the page says why where it loads the model)."""
    try:
        return cache.bundle_for(model).suggested_settings
    except NeuroTunesError:
        return {}


def _playback_settings(score: Score, key: str) -> tuple[Score, str]:
    """Instruments per track and tempo, in a popover; returns the changed Score and a file-name suffix."""
    names = gm_program_names()
    tracks = sorted({n.program for n in score.notes if not n.is_drum})
    changes: dict[int, int] = {}
    with st.popover("Instruments and tempo", icon=":material/tune:", width="stretch"):
        for i, program in enumerate(tracks):
            chosen = instrument_select(st, f"Track {i + 1} (written for {names[program]})", index=program,
                                       key=f"{key}_inst_{program}")
            if chosen != program:
                changes[program] = chosen
        written = int(round(score.tempo_bpm))
        bpm = st.slider("Tempo (BPM)", int(C.MIN_TEMPO_BPM), int(C.MAX_TEMPO_BPM), written, key=f"{key}_bpm")
    suffix = []
    if changes:
        score = score.with_instruments(changes)
        suffix += [slug(names[p]) for p in sorted(set(changes.values()))]
    if bpm != written:
        score = score.with_tempo(bpm)
        suffix.append(f"{bpm}bpm")
    return score, "-".join(suffix).lower()


def take_warnings(score: Score) -> None:
    """Say why a take stopped before its length, and whether it collapsed into repeats."""
    if score.metadata.get("stopped_early"):
        st.warning(score.metadata["stopped_early"], icon=":material/timer:")
    stats = repetition_stats(score)
    if stats["collapsed"]:
        st.warning(f"This take collapsed: one pitch repeats {stats['longest_run']} times in a row or makes up "
                   f"{stats['top_pitch_share']:.0%} of the notes. Try a higher temperature or a repetition penalty.",
                   icon=":material/warning:")

