"""A play-along piano roll: one HTML component holding the audio and a canvas roll with a playhead.

Why one component: the playhead must read the audio element's clock on every
animation frame.  Streamlit's own ``st.audio`` and ``st.plotly_chart`` live in
separate parts of the page with no supported way to talk to each other, and
reaching into the parent page's DOM would break with any Streamlit release.
Inside one iframe the audio element and the roll share a clock, nothing else
is touched, and the page keeps working when scripts are blocked (the audio
element still plays).

The roll is drawn on a canvas (one pass over the notes, so 5,000 notes draw in
milliseconds) with the colours of :func:`neurotunes.plotting.piano_roll` (its colour scales);
the playhead and the notes sounding under it are drawn on a second canvas on
top, so only that layer is redrawn while the music plays.  Click or drag on
the roll to seek; hover shows a note's name, start, duration and velocity;
the space bar plays and pauses.
"""

from __future__ import annotations

import base64
import json

from ..plotting import GENERATED_COLORSCALE, PRIMER_COLORSCALE
from ..score import Score

ROLL_HEIGHT_PX = 300
AUDIO_HEIGHT_PX = 54
#: Streamlit sends the whole component on every rerun: above this the player falls back to st.audio.
MAX_INLINE_AUDIO_BYTES = 6 * 1024 * 1024  # about six minutes of MP3

_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  html, body { margin: 0; padding: 0; background: transparent; font: 12px system-ui, sans-serif; color: #8a8aa0; }
  audio { width: 100%; height: 40px; display: block; margin-bottom: 6px; }
  #wrap { position: relative; height: __ROLL__px; cursor: pointer; user-select: none; }
  canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
  #tip { position: absolute; display: none; pointer-events: none; padding: 3px 6px; border-radius: 4px;
         background: rgba(20, 20, 30, 0.88); color: #fff; white-space: nowrap; font-size: 12px; }
  #time { position: absolute; right: 6px; top: 2px; font-variant-numeric: tabular-nums; pointer-events: none; }
</style></head><body>
<audio id="audio" controls preload="auto" src="data:__MIME__;base64,__AUDIO__"></audio>
<div id="wrap" title="Click to play from here">
  <canvas id="notes"></canvas><canvas id="head"></canvas><div id="time"></div><div id="tip"></div>
</div>
<script>
(function () {
  const D = __DATA__;
  const audio = document.getElementById("audio");
  const wrap = document.getElementById("wrap");
  const notesCv = document.getElementById("notes"), headCv = document.getElementById("head");
  const tip = document.getElementById("tip"), clock = document.getElementById("time");
  const M = { l: 46, r: 8, t: 8, b: 22 };
  const N = D.notes.length;  // each note: [start s, end s, pitch, velocity, is primer]
  let low = D.low, high = D.high, W = 0, H = 0, dpr = 1, end = D.end;
  const names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
  const pname = p => names[p % 12] + (Math.floor(p / 12) - 1);
  const scale = D.unit === "beats" ? 1 / D.spb : 1;
  const fmt = t => (t * scale).toFixed(2) + (D.unit === "beats" ? " beats" : " s");
  function mix(a, b, f) {
    const c = [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * f));
    return "rgb(" + c.join(",") + ")";
  }
  const color = (v, primer) => mix(D.pale[primer], D.deep[primer], (v - 1) / 126);
  const x = t => M.l + (W - M.l - M.r) * (end > 0 ? t / end : 0);
  const tOf = px => Math.min(end, Math.max(0, (px - M.l) / (W - M.l - M.r) * end));
  const rowH = () => (H - M.t - M.b) / (high - low + 1);
  const y = p => M.t + (high - p) * rowH();
  function niceStep(span) {
    const raw = span / 8, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || mag * 10;
  }
  function drawNotes() {
    const r = wrap.getBoundingClientRect();
    dpr = window.devicePixelRatio || 1; W = r.width; H = r.height;
    for (const cv of [notesCv, headCv]) { cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr); }
    const g = notesCv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
    g.strokeStyle = "rgba(128,128,128,0.25)"; g.fillStyle = "#8a8aa0"; g.lineWidth = 1;
    g.textAlign = "right"; g.textBaseline = "middle";
    for (let p = low; p <= high; p++) {
      if (p % 12 !== 0) continue;
      const yy = Math.round(y(p) + rowH() / 2) + 0.5;
      g.beginPath(); g.moveTo(M.l, yy); g.lineTo(W - M.r, yy); g.stroke();
      g.fillText(pname(p), M.l - 6, yy);
    }
    g.textAlign = "center"; g.textBaseline = "top";
    const span = end * scale, step = niceStep(span || 1);
    for (let v = 0; v <= span + 1e-9; v += step) {
      const xx = Math.round(x(v / scale)) + 0.5;
      g.beginPath(); g.moveTo(xx, M.t); g.lineTo(xx, H - M.b); g.stroke();
      g.fillText((Math.round(v * 100) / 100) + (v === 0 ? (D.unit === "beats" ? " beats" : " s") : ""), xx, H - M.b + 5);
    }
    const h = Math.max(1, rowH() * 0.8);
    for (let i = 0; i < N; i++) {
      const n = D.notes[i];
      g.fillStyle = color(n[3], n[4]);
      g.fillRect(x(n[0]), y(n[2]) + rowH() * 0.1, Math.max(1, x(n[1]) - x(n[0])), h);
    }
    drawHead();
  }
  function drawHead() {
    const g = headCv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
    const t = audio.currentTime || 0, h = Math.max(1, rowH() * 0.8);
    g.fillStyle = "rgba(255,255,255,0.85)"; g.strokeStyle = "rgba(0,0,0,0.35)";
    for (let i = 0; i < N; i++) {  // the notes sounding now, lit up
      const n = D.notes[i];
      if (n[0] > t) break;
      if (n[1] > t) { g.fillRect(x(n[0]), y(n[2]) + rowH() * 0.1, Math.max(1, x(n[1]) - x(n[0])), h); }
    }
    const xx = Math.round(x(Math.min(t, end))) + 0.5;
    g.strokeStyle = "#ff4b4b"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(xx, M.t - 4); g.lineTo(xx, H - M.b); g.stroke();
    clock.textContent = fmt(t) + " / " + fmt(end);
    wrap.dataset.playhead = t.toFixed(3);
  }
  let frame = 0;
  function tick() { drawHead(); frame = audio.paused ? 0 : requestAnimationFrame(tick); }
  audio.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
  for (const ev of ["pause", "seeked", "timeupdate", "ended", "loadedmetadata"]) audio.addEventListener(ev, drawHead);
  audio.addEventListener("loadedmetadata", () => { if (audio.duration > end) { end = audio.duration; drawNotes(); } });
  let dragging = false;
  const seek = e => { audio.currentTime = tOf(e.clientX - wrap.getBoundingClientRect().left); drawHead(); };
  wrap.addEventListener("mousedown", e => { dragging = true; seek(e); });
  window.addEventListener("mouseup", () => {
    if (dragging) { dragging = false; audio.play().catch(() => {}); }
  });
  wrap.addEventListener("mousemove", e => {
    const r = wrap.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    if (dragging) { seek(e); }
    const t = tOf(px), p = high - Math.floor((py - M.t) / rowH());
    let hit = null;
    for (let i = 0; i < N; i++) {
      const n = D.notes[i];
      if (n[0] > t) break;
      if (n[1] >= t && n[2] === p) hit = n;
    }
    if (!hit) { tip.style.display = "none"; return; }
    tip.textContent = pname(hit[2]) + " · start " + fmt(hit[0]) + " · lasts " + fmt(hit[1] - hit[0]) +
      " · velocity " + hit[3] + (hit[4] ? " · primer" : "");
    tip.style.display = "block";
    tip.style.left = Math.min(px + 12, W - tip.offsetWidth - 4) + "px";
    tip.style.top = Math.max(0, py - 28) + "px";
  });
  wrap.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  document.addEventListener("keydown", e => {
    if (e.code === "Space") { e.preventDefault(); audio.paused ? audio.play().catch(() => {}) : audio.pause(); }
  });
  new ResizeObserver(drawNotes).observe(wrap);
  drawNotes();
  // Where a note is drawn (CSS pixels inside #wrap): for tests and anyone scripting the player.
  window.neurotunesRoll = { notes: D.notes, at: i => [x((D.notes[i][0] + D.notes[i][1]) / 2), y(D.notes[i][2]) + rowH() / 2] };
})();
</script></body></html>"""


def _rgb(hex_color: str) -> list[int]:
    return [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]


def player_html(score: Score, audio: bytes, *, mime: str = "audio/mpeg", primer_notes: int = 0,
                time_unit: str = "seconds") -> str:
    """The component's HTML: ``audio`` (the rendering of ``score``) and its roll, self-contained."""
    notes = [[round(n.start, 4), round(n.end, 4), n.pitch, n.velocity, int(i < primer_notes)]
             for i, n in enumerate(score.notes)]  # score.notes are in onset order: the JS relies on it
    pitches = [n.pitch for n in score.notes] or [60]
    scales = (GENERATED_COLORSCALE, PRIMER_COLORSCALE)  # velocity colours, as on the Plotly roll
    data = {
        "notes": notes,
        "pale": [_rgb(scale[0][1]) for scale in scales],
        "deep": [_rgb(scale[-1][1]) for scale in scales],
        "low": max(0, min(pitches) - 2),
        "high": min(127, max(pitches) + 2),
        "end": max((n.end for n in score.notes), default=1.0),
        "spb": score.seconds_per_beat,
        "unit": time_unit,
    }
    # "</" inside a <script> would end it early; JSON numbers and the unit string never hold it, but be safe.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (_TEMPLATE.replace("__ROLL__", str(ROLL_HEIGHT_PX))
            .replace("__MIME__", mime)
            .replace("__DATA__", payload)
            .replace("__AUDIO__", base64.b64encode(audio).decode("ascii")))


def play_along(score: Score, audio: bytes, *, mime: str = "audio/mpeg", primer_notes: int = 0,
               time_unit: str = "seconds") -> None:
    """Show the audio and a piano roll whose playhead follows it (see the module docstring)."""
    import streamlit as st

    if len(audio) > MAX_INLINE_AUDIO_BYTES:  # too long to send inline on every rerun: the plain player
        st.audio(audio, format=mime)
        st.caption("A long piece: no playhead here; its piano roll is under **Zoom and inspect**.")
        return
    # Our own HTML only: note numbers and base64 audio, never a string a user typed.
    st.iframe(player_html(score, audio, mime=mime, primer_notes=primer_notes, time_unit=time_unit),
              height=ROLL_HEIGHT_PX + AUDIO_HEIGHT_PX)
