"""The Transcribe page's settings, its one action and its A/B check: presets into widgets, widgets into
configs, a recording into a checked :class:`~neurotunes.ui.state.Transcription`, and one player that
switches between the recording (A) and the transcription (B) at the same moment.

Each setting's widget is keyed by :data:`neurotunes.ui.state.TRANSCRIBE_SETTINGS` (by the
config field it sets), so a preset sets every widget at once and the page's values
are read back into the configs field by field.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import streamlit as st

from ..config import PostProcessConfig, TranscribeConfig
from ..errors import NeuroTunesError
from ..render import audio_to_mp3
from ..score import Score
from ..transcribe import PRESETS, decode_audio, notes_from_analysis
from . import cache, state
from .player import AUDIO_HEIGHT_PX, MAX_INLINE_AUDIO_BYTES, ROLL_HEIGHT_PX, player_html
from .widgets import guarded, heavy_job

log = logging.getLogger(__name__)
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
    values = widget_settings()
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


#: Each setting as the page names it, for "Re-run with current settings" (in the order of the widgets).
SETTING_LABELS = {
    "onset_threshold": "onset threshold", "frame_threshold": "frame threshold",
    "minimum_note_length_ms": "minimum note length (ms)", "midi_tempo": "MIDI tempo (BPM)",
    "minimum_frequency": "minimum frequency (Hz)", "maximum_frequency": "maximum frequency (Hz)",
    "melodia_trick": "melodia trick", "multiple_pitch_bends": "multiple pitch bends", "quantize": "quantize",
    "monophonic": "top melody line only", "min_note_ms": "drop notes shorter than (ms)",
    "normalize_velocity": "normalize velocity",
}


def _shown(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if name in _ZERO_IS_NONE and not value:
        return "none"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def widget_settings() -> dict[str, Any]:
    """The settings the widgets show, by config field (a frequency of 0 shown as "none" is None)."""
    values = {name: st.session_state[key] for name, key in state.TRANSCRIBE_SETTINGS.items()}
    values.update({name: values[name] or None for name in _ZERO_IS_NONE})
    return values


def changed_settings(made_with: Mapping[str, Any], shown: Mapping[str, Any]) -> list[str]:
    """The shown settings that differ from those a transcription was made with, in words:
    "onset threshold 0.4 (this one: 0.5)".  Every setting, when it was made with unknown settings."""
    out = []
    for name, label in SETTING_LABELS.items():
        now, then = shown.get(name), made_with.get(name)
        if name not in made_with or _shown(name, now) != _shown(name, then):
            out.append(f"{label} {_shown(name, now)}" + (f" (this one: {_shown(name, then)})" if name in made_with
                                                          else ""))
    return out


#: What browsers play as it is; anything else, or a long recording, is re-encoded as MP3 for the A/B player.
BROWSER_AUDIO = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac"}
#: An original above this is sent as an MP3 copy: the player goes to the browser with the page on every rerun.
MAX_ORIGINAL_INLINE_BYTES = 3 * 1024 * 1024
A_LABEL, B_LABEL = "A · original recording", "B · transcription"
SWITCH_HEIGHT_PX = 44


@st.cache_data(show_spinner="Preparing the recording for the A/B player…", max_entries=8)
def _mp3_copy(data: bytes, name: str) -> bytes:
    audio, rate = decode_audio(data, name=name)
    return audio_to_mp3(audio, rate)


def listening_copy(name: str, data: bytes) -> tuple[bytes, str]:
    """The recording as the browser will play it, and its MIME type."""
    mime = BROWSER_AUDIO.get(Path(name).suffix.lower())
    if mime is not None and len(data) <= MAX_ORIGINAL_INLINE_BYTES:
        return data, mime
    try:
        return _mp3_copy(data, name), "audio/mpeg"
    except NeuroTunesError as exc:  # it was transcribed, so it decodes; should the encoder fail, send it as it is
        log.warning("no MP3 copy of %s for the A/B player: %s", name, exc)
        return data, mime or "audio/wav"


_SWITCH = """<div id="ab" role="group" aria-label="Listen to" style="display:flex;gap:6px;margin:0 0 8px 0">
<button type="button" data-side="A" aria-pressed="false">__A__</button>
<button type="button" data-side="B" aria-pressed="true">__B__</button>
<span id="ab-note" style="align-self:center;margin-left:4px">Switch while it plays: same moment, other side.</span>
</div>
<style>
  #ab button { font: 13px system-ui, sans-serif; padding: 5px 12px; white-space: nowrap; border-radius: 8px; cursor: pointer;
               border: 1px solid rgba(128,128,144,0.5); background: transparent; color: inherit; }
  #ab button[aria-pressed="true"] { background: #ff4b4b; border-color: #ff4b4b; color: #fff; }
  body { color: #8a8aa0; }
</style>"""

_SWITCH_SCRIPT = """<script>
(function () {
  const audio = document.getElementById("audio");
  const src = { A: "data:__MIME__;base64,__AUDIO__", B: audio.getAttribute("src") };
  const buttons = document.querySelectorAll("#ab button");
  let side = "B", last = null;
  function choose(next) {
    if (next === side) return;
    const t = audio.currentTime || 0, playing = !audio.paused;
    side = next;
    document.body.dataset.side = side;
    buttons.forEach(b => b.setAttribute("aria-pressed", String(b.dataset.side === side)));
    audio.addEventListener("loadedmetadata", function go() {
      audio.removeEventListener("loadedmetadata", go);
      audio.currentTime = Math.min(t, audio.duration || t);
      last = { side: side, from: t, to: audio.currentTime, playing: playing };
      if (playing) audio.play().catch(() => {});
    });
    audio.src = src[side];
    audio.load();
  }
  buttons.forEach(b => b.addEventListener("click", () => choose(b.dataset.side)));
  document.body.dataset.side = side;
  // For tests and anyone scripting the page: which side plays, and the switch itself.
  window.neurotunesAB = { side: () => side, choose, lastSwitch: () => last };
})();
</script>"""


def ab_player_html(score: Score, original: bytes, original_mime: str, rendering: bytes) -> str | None:
    """One player for the A/B check: the transcription's play-along roll (:func:`~neurotunes.ui.player.player_html`)
    with a switch between the recording (A) and the rendering (B) that keeps the moment and play state.
    None when the player's page has no audio element to switch."""
    html = player_html(score, rendering)
    if '<audio id="audio"' not in html or "<body>" not in html or "</body>" not in html:
        return None
    switch = _SWITCH.replace("__A__", A_LABEL).replace("__B__", B_LABEL + " (FluidSynth)")
    script = (_SWITCH_SCRIPT.replace("__MIME__", json.dumps(original_mime)[1:-1])
              .replace("__AUDIO__", base64.b64encode(original).decode("ascii")))
    return html.replace("<body>", "<body>" + switch, 1).replace("</body>", script + "</body>", 1)


def ab_player(tr: state.Transcription, rendering: bytes | None) -> None:
    """The A/B check of one transcription: one player, one switch (see :func:`ab_player_html`).  Without a
    rendering, or when both sides are too long to send inline, one switch chooses what a plain player plays."""
    original, mime = listening_copy(tr.name, tr.audio)
    html = None
    if rendering is not None and len(original) + len(rendering) <= MAX_INLINE_AUDIO_BYTES:
        html = ab_player_html(tr.score, original, mime, rendering)
    if html is not None:
        # Our own HTML only: note numbers and base64 audio, never a string a user typed.
        st.iframe(html, height=ROLL_HEIGHT_PX + AUDIO_HEIGHT_PX + SWITCH_HEIGHT_PX)
        return
    sides = [A_LABEL] + ([B_LABEL] if rendering is not None else [])
    side = st.segmented_control("Listen to", sides, default=A_LABEL,
                                key=state.item_key(state.TRANSCRIPTION_AB, tr.name)) or A_LABEL
    if side == A_LABEL:
        st.audio(original, format=mime)
    else:
        st.audio(rendering, format="audio/mpeg")
    if rendering is not None:
        st.caption("A long recording: the switch restarts the player; the notes are under **Zoom and inspect**.")
