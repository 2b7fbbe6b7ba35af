"""Piano rolls you can hear: one HTML component holding the audio and canvas rolls with a playhead.

Why one component: the playhead must read the audio element's clock on every
animation frame.  Streamlit's own ``st.audio`` and ``st.plotly_chart`` live in
separate parts of the page with no supported way to talk to each other, and
reaching into the parent page's DOM would break with any Streamlit release.
Inside one iframe the audio element and the roll share a clock, nothing else
is touched, and the page keeps working when scripts are blocked (the audio
element still plays).

Three views share one roll drawer (``_ROLL_JS``):

* :func:`play_along`: a piece's audio and its roll; the playhead follows the audio.
* :func:`compare_along`: two pieces on ONE time scale (a common x range and pitch
  range), one play button for both, and a switch to hear A, B or both at the same
  moment of the music (both audios run together; the switch only mutes one).
* :func:`roll_view`: a roll without audio with some notes ringed ("why this note?").

The roll is drawn on a canvas (one pass over the notes, so 5,000 notes draw in
milliseconds) with the colours of :func:`neurotunes.plotting.piano_roll` (its colour scales);
the playhead and the notes sounding under it are drawn on a second canvas on
top, so only that layer is redrawn while the music plays.  Click or drag on
the roll to seek; hover shows a note's name, start, duration and velocity;
the space bar plays and pauses.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Sequence

from ..plotting import GENERATED_COLORSCALE, PRIMER_COLORSCALE
from ..score import Score

ROLL_HEIGHT_PX = 300
AUDIO_HEIGHT_PX = 54
#: Each take's lane in the comparison, and the bar with the shared play button above them.
COMPARE_LANE_PX = 210
COMPARE_LABEL_PX = 22
COMPARE_BAR_PX = 44
#: The roll beside the "why this note?" charts.
VIEW_HEIGHT_PX = 260
#: Streamlit sends the whole component on every rerun: above this the player falls back to st.audio.
MAX_INLINE_AUDIO_BYTES = 6 * 1024 * 1024  # about six minutes of MP3

_STYLE = """
  html, body { margin: 0; padding: 0; background: transparent; font: 12px system-ui, sans-serif; color: #8a8aa0; }
  audio { width: 100%; height: 40px; display: block; margin-bottom: 6px; }
  .wrap { position: relative; cursor: pointer; user-select: none; }
  canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
  .tip { position: absolute; display: none; pointer-events: none; padding: 3px 6px; border-radius: 4px;
         background: rgba(20, 20, 30, 0.88); color: #fff; white-space: nowrap; font-size: 12px; z-index: 2; }
  .time { position: absolute; right: 6px; top: 2px; font-variant-numeric: tabular-nums; pointer-events: none; }
"""

#: makeRoll(wrap, D, clock): draws D.notes ([start s, end s, pitch, velocity, is primer]) into the
#: two canvases of ``wrap`` on the x range 0..D.end and pitch range D.low..D.high; ``clock()`` is the
#: playhead's time (null: no playhead).  Returns its geometry and a head() that redraws the playhead.
_ROLL_JS = """
const M = { l: 46, r: 8, t: 8, b: 22 };
const NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const pname = p => NAMES[p % 12] + (Math.floor(p / 12) - 1);
function mix(a, b, f) {
  const c = [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * f));
  return "rgb(" + c.join(",") + ")";
}
function makeRoll(wrap, D, clock) {
  const notesCv = wrap.querySelector("canvas.notes"), headCv = wrap.querySelector("canvas.head");
  const tip = wrap.querySelector(".tip"), timeEl = wrap.querySelector(".time");
  const N = D.notes.length, low = D.low, high = D.high, hl = new Set(D.highlight || []);
  let W = 0, H = 0, dpr = 1;
  const R = { end: D.end };
  const scale = D.unit === "beats" ? 1 / D.spb : 1;
  const fmt = t => (t * scale).toFixed(2) + (D.unit === "beats" ? " beats" : " s");
  const color = (v, primer) => mix(D.pale[primer], D.deep[primer], (v - 1) / 126);
  const x = t => M.l + (W - M.l - M.r) * (R.end > 0 ? t / R.end : 0);
  const tOf = px => Math.min(R.end, Math.max(0, (px - M.l) / (W - M.l - M.r) * R.end));
  const rowH = () => (H - M.t - M.b) / (high - low + 1);
  const y = p => M.t + (high - p) * rowH();
  function niceStep(span) {
    const raw = span / 8, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || mag * 10;
  }
  function draw() {
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
    const span = R.end * scale, step = niceStep(span || 1);
    for (let v = 0; v <= span + 1e-9; v += step) {
      const xx = Math.round(x(v / scale)) + 0.5;
      g.beginPath(); g.moveTo(xx, M.t); g.lineTo(xx, H - M.b); g.stroke();
      g.fillText((Math.round(v * 100) / 100) + (v === 0 ? (D.unit === "beats" ? " beats" : " s") : ""), xx, H - M.b + 5);
    }
    const h = Math.max(1, rowH() * 0.8);
    for (let i = 0; i < N; i++) {
      const n = D.notes[i];
      g.fillStyle = color(n[3], n[4]);
      if (hl.size && !hl.has(i)) g.globalAlpha = 0.45;  // the ringed notes stand out
      g.fillRect(x(n[0]), y(n[2]) + rowH() * 0.1, Math.max(1, x(n[1]) - x(n[0])), h);
      g.globalAlpha = 1;
    }
    for (const i of hl) {  // a ring, a guide line down to the time axis, and the note's name
      const n = D.notes[i];
      if (!n) continue;
      const x0 = x(n[0]), w = Math.max(3, x(n[1]) - x0), y0 = y(n[2]) + rowH() * 0.1;
      g.strokeStyle = "#ff4b4b"; g.lineWidth = 2;
      g.strokeRect(x0 - 3, y0 - 3, w + 6, h + 6);
      g.setLineDash([3, 3]); g.beginPath(); g.moveTo(x0, y0 + h + 3); g.lineTo(x0, H - M.b); g.stroke();
      g.setLineDash([]);
      g.fillStyle = "#ff4b4b"; g.textAlign = "left"; g.textBaseline = "bottom";
      g.fillText(pname(n[2]), Math.min(x0 + w + 6, W - M.r - 24), Math.max(12, y0 - 2));
    }
    head();
  }
  function head() {
    const g = headCv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
    if (!clock) return;
    const t = clock(), h = Math.max(1, rowH() * 0.8);
    g.fillStyle = "rgba(255,255,255,0.85)";
    for (let i = 0; i < N; i++) {  // the notes sounding now, lit up
      const n = D.notes[i];
      if (n[0] > t) break;
      if (n[1] > t) { g.fillRect(x(n[0]), y(n[2]) + rowH() * 0.1, Math.max(1, x(n[1]) - x(n[0])), h); }
    }
    const xx = Math.round(x(Math.min(t, R.end))) + 0.5;
    g.strokeStyle = "#ff4b4b"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(xx, M.t - 4); g.lineTo(xx, H - M.b); g.stroke();
    if (timeEl) timeEl.textContent = fmt(t) + " / " + fmt(R.end);
    wrap.dataset.playhead = t.toFixed(3);
  }
  wrap.addEventListener("mousemove", e => {
    const r = wrap.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
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
  new ResizeObserver(draw).observe(wrap);
  Object.assign(R, {
    draw, head, x, tOf, notes: D.notes,
    // Where a note is drawn (CSS pixels inside its wrap): for tests and anyone scripting the player.
    at: i => [x((D.notes[i][0] + D.notes[i][1]) / 2), y(D.notes[i][2]) + rowH() / 2],
  });
  draw();
  return R;
}
"""

_LANE = """<div class="wrap" id="__ID__" style="height: __H__px" title="__TITLE__">
  <canvas class="notes" id="__NOTES__"></canvas><canvas class="head" id="__HEAD__"></canvas>
  <div class="time" id="__TIME__"></div><div class="tip" id="__TIP__"></div>
</div>"""

_PLAYER = """<!doctype html>
<html><head><meta charset="utf-8"><style>__STYLE__</style></head><body>
<audio id="audio" controls preload="auto" src="data:__MIME__;base64,__AUDIO__"></audio>
__LANE__
<script>
__ROLL_JS__
(function () {
  const audio = document.getElementById("audio"), wrap = document.getElementById("wrap");
  const roll = makeRoll(wrap, __DATA__, () => audio.currentTime || 0);
  let frame = 0;
  function tick() { roll.head(); frame = audio.paused ? 0 : requestAnimationFrame(tick); }
  audio.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
  for (const ev of ["pause", "seeked", "timeupdate", "ended", "loadedmetadata"]) audio.addEventListener(ev, roll.head);
  audio.addEventListener("loadedmetadata", () => {
    if (audio.duration > roll.end) { roll.end = audio.duration; roll.draw(); }
  });
  let dragging = false;
  const seek = e => { audio.currentTime = roll.tOf(e.clientX - wrap.getBoundingClientRect().left); roll.head(); };
  wrap.addEventListener("mousedown", e => { dragging = true; seek(e); });
  wrap.addEventListener("mousemove", e => { if (dragging) seek(e); });
  window.addEventListener("mouseup", () => {
    if (dragging) { dragging = false; audio.play().catch(() => {}); }
  });
  document.addEventListener("keydown", e => {
    if (e.code === "Space") { e.preventDefault(); audio.paused ? audio.play().catch(() => {}) : audio.pause(); }
  });
  window.neurotunesRoll = roll;
})();
</script></body></html>"""

_VIEW = """<!doctype html>
<html><head><meta charset="utf-8"><style>__STYLE__ .wrap { cursor: default; }</style></head><body>
__LANE__
<script>
__ROLL_JS__
window.neurotunesRoll = makeRoll(document.getElementById("wrap"), __DATA__, null);
</script></body></html>"""

_COMPARE = """<!doctype html>
<html><head><meta charset="utf-8"><style>__STYLE__
  #bar { display: flex; align-items: center; gap: 10px; height: __BAR__px; }
  @media (max-width: 480px) { #listen { display: none; } }  /* a phone: the bar stays one line */
  button { font: inherit; color: #e8e8f0; background: #1c1f2b; border: 1px solid rgba(128,128,128,0.4);
           border-radius: 6px; padding: 5px 10px; cursor: pointer; }
  button.on { background: #7c4dff; border-color: #7c4dff; color: #fff; }
  #play { min-width: 84px; font-weight: 600; }
  #pick { display: inline-flex; gap: 4px; }
  #clock { margin-left: auto; font-variant-numeric: tabular-nums; }
  .name { height: __LABEL__px; line-height: __LABEL__px; color: #e8e8f0; white-space: nowrap; overflow: hidden;
          text-overflow: ellipsis; }
  .name b { color: #ff4b4b; margin-right: 6px; }
  .lane .time { display: none; }  /* one clock for both, in the bar */
</style></head><body>
<div id="bar">
  <button id="play" type="button">&#9654; Play</button>
  <span id="listen">Listen to</span>
  <span id="pick">
    <button type="button" data-hear="0" class="on" title="Hear A; B runs silently at the same spot">A</button>
    <button type="button" data-hear="1" title="Hear B; A runs silently at the same spot">B</button>
    <button type="button" data-hear="both" title="Hear both together">Both</button>
  </span>
  <span id="clock"></span>
</div>
__LANES__
<audio id="a0" preload="auto" src="data:__MIME__;base64,__AUDIO0__"></audio>
<audio id="a1" preload="auto" src="data:__MIME__;base64,__AUDIO1__"></audio>
<script>
__ROLL_JS__
(function () {
  const D = __DATA__;
  const audios = [document.getElementById("a0"), document.getElementById("a1")];
  const play = document.getElementById("play"), clockEl = document.getElementById("clock");
  let hear = "0", end = D.end;
  const heard = i => hear === "both" || hear === String(i);
  // One clock for both lanes: the take heard (the first, when both are), else the further of the two.
  const master = () => audios.find((a, i) => heard(i) && !a.paused && !a.ended) || null;
  const now = () => {
    const m = master();
    return m ? m.currentTime : Math.max(...audios.map(a => a.currentTime || 0));
  };
  const rolls = D.lanes.map((lane, i) => makeRoll(document.getElementById("wrap" + i), lane, now));
  const playing = () => audios.some(a => !a.paused);
  const audible = () => audios.filter((a, i) => heard(i));
  const fmt = t => t.toFixed(1) + " s";
  function draw() {
    rolls.forEach(r => r.head());
    clockEl.textContent = fmt(now()) + " / " + fmt(end);
    play.innerHTML = playing() ? "&#10074;&#10074; Pause" : "&#9654; Play";
  }
  function setEnd(t) { end = t; rolls.forEach(r => { r.end = t; r.draw(); }); draw(); }
  function seek(t) {
    audios.forEach(a => { a.currentTime = Math.min(t, a.duration || t); });
    draw();
  }
  function start() {
    if (now() >= end - 0.05) seek(0);
    const t = now();
    audios.forEach(a => { if (!(a.duration && t >= a.duration)) a.play().catch(() => {}); });
  }
  function stop() { audios.forEach(a => a.pause()); draw(); }
  function choose(value) {
    hear = value;
    audios.forEach((a, i) => { a.muted = !(value === "both" || value === String(i)); });
    document.querySelectorAll("#pick button").forEach(b => b.classList.toggle("on", b.dataset.hear === value));
    if (playing()) {  // the newly heard take joins at the same moment of the music
      const t = now();
      audios.forEach(a => {
        if (a.duration && t < a.duration && Math.abs(a.currentTime - t) > 0.05) a.currentTime = t;
      });
    }
  }
  let frame = 0;
  const synced = [0, 0];
  function tick() {
    const m = master();
    if (m) {  // keep the other in step with the one heard (two media elements start and drift apart)
      const t = m.currentTime, stamp = performance.now();
      audios.forEach((a, i) => {
        if (a === m || a.paused || !a.duration || t >= a.duration || stamp - synced[i] < 500) return;
        if (Math.abs(a.currentTime - t) > 0.1) { a.currentTime = t; synced[i] = stamp; }
      });
    }
    draw();
    frame = playing() ? requestAnimationFrame(tick) : 0;
  }
  play.addEventListener("click", () => { playing() ? stop() : start(); });
  document.querySelectorAll("#pick button").forEach(b => b.addEventListener("click", () => choose(b.dataset.hear)));
  audios.forEach(a => {
    a.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); draw(); });
    a.addEventListener("pause", draw);
    a.addEventListener("loadedmetadata", () => {
      const longest = Math.max(...audios.map(x => x.duration || 0));
      if (longest > end) setEnd(longest); else draw();
    });
    a.addEventListener("ended", () => { if (audible().every(x => x.ended || x.paused)) stop(); });
  });
  rolls.forEach((r, i) => {
    const wrap = document.getElementById("wrap" + i);
    wrap.addEventListener("mousedown", e => {
      seek(r.tOf(e.clientX - wrap.getBoundingClientRect().left));
      if (!playing()) start();
    });
  });
  document.addEventListener("keydown", e => {
    if (e.code === "Space") { e.preventDefault(); playing() ? stop() : start(); }
  });
  choose("0");
  draw();
  window.neurotunesCompare = { rolls, audios, now, hear: () => hear, end: () => end };
})();
</script></body></html>"""


def _rgb(hex_color: str) -> list[int]:
    return [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]


def _roll_data(score: Score, *, primer_notes: int = 0, time_unit: str = "seconds", low: int | None = None,
               high: int | None = None, end: float | None = None, highlight: Sequence[int] = ()) -> dict:
    """What makeRoll draws: the notes (in onset order: the JS relies on it), colours, ranges and unit."""
    notes = [[round(n.start, 4), round(n.end, 4), n.pitch, n.velocity, int(i < primer_notes)]
             for i, n in enumerate(score.notes)]
    pitches = [n.pitch for n in score.notes] or [60]
    scales = (GENERATED_COLORSCALE, PRIMER_COLORSCALE)  # velocity colours, as on the Plotly roll
    return {
        "notes": notes,
        "pale": [_rgb(scale[0][1]) for scale in scales],
        "deep": [_rgb(scale[-1][1]) for scale in scales],
        "low": max(0, min(pitches) - 2) if low is None else low,
        "high": min(127, max(pitches) + 2) if high is None else high,
        "end": max((n.end for n in score.notes), default=1.0) if end is None else end,
        "spb": score.seconds_per_beat,
        "unit": time_unit,
        "highlight": [int(i) for i in highlight],
    }


def _json(data: object) -> str:
    # "</" inside a <script> would end it early; JSON numbers and the unit string never hold it, but be safe.
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _lane(element_id: str, height: int, title: str, suffix: str = "") -> str:
    return (_LANE.replace("__ID__", element_id).replace("__H__", str(height)).replace("__TITLE__", title)
            .replace("__NOTES__", "notes" + suffix).replace("__HEAD__", "head" + suffix)
            .replace("__TIME__", "time" + suffix).replace("__TIP__", "tip" + suffix))


def _page(template: str, **parts: str) -> str:
    page = template.replace("__STYLE__", _STYLE).replace("__ROLL_JS__", _ROLL_JS)
    for name, value in parts.items():  # the audio last: nothing is searched for inside megabytes of base64
        page = page.replace(f"__{name}__", value)
    return page


def player_html(score: Score, audio: bytes, *, mime: str = "audio/mpeg", primer_notes: int = 0,
                time_unit: str = "seconds") -> str:
    """The play-along component's HTML: ``audio`` (the rendering of ``score``) and its roll, self-contained."""
    return _page(_PLAYER, LANE=_lane("wrap", ROLL_HEIGHT_PX, "Click to play from here"), MIME=mime,
                 DATA=_json(_roll_data(score, primer_notes=primer_notes, time_unit=time_unit)),
                 AUDIO=base64.b64encode(audio).decode("ascii"))


def roll_html(score: Score, *, highlight: Sequence[int] = (), primer_notes: int = 0, time_unit: str = "beats",
              height: int = VIEW_HEIGHT_PX) -> str:
    """A roll without audio, the notes at indices ``highlight`` (of ``score.notes``) ringed and named."""
    return _page(_VIEW, LANE=_lane("wrap", height, ""), DATA=_json(_roll_data(
        score, primer_notes=primer_notes, time_unit=time_unit, highlight=highlight)))


def compare_html(takes: Sequence[tuple[str, Score, bytes, int]], *, mime: str = "audio/mpeg") -> str:
    """Two pieces on one time scale with one play button: ``takes`` holds ``(label, score, audio, primer notes)``.

    Both rolls share the x range (0 to the longer piece's end) and the pitch range, so the same
    moment and the same pitch sit at the same place in both lanes.
    """
    if len(takes) != 2:
        raise ValueError(f"compare two pieces, not {len(takes)}")
    pitches = [n.pitch for _, score, _, _ in takes for n in score.notes] or [60]
    low, high = max(0, min(pitches) - 2), min(127, max(pitches) + 2)
    end = max((score.duration for _, score, _, _ in takes), default=0.0) or 1.0
    lanes = [_roll_data(score, primer_notes=primer, low=low, high=high, end=end) for _, score, _, primer in takes]
    lanes_html = "\n".join(
        f'<div class="lane"><div class="name"><b>{letter}</b>{html.escape(label)}</div>'
        + _lane(f"wrap{i}", COMPARE_LANE_PX, "Click to hear both from here", suffix=str(i)) + "</div>"
        for i, (letter, (label, _, _, _)) in enumerate(zip("AB", takes)))
    return _page(_COMPARE, BAR=str(COMPARE_BAR_PX), LABEL=str(COMPARE_LABEL_PX), LANES=lanes_html, MIME=mime,
                 DATA=_json({"end": end, "lanes": lanes}),
                 AUDIO0=base64.b64encode(takes[0][2]).decode("ascii"),
                 AUDIO1=base64.b64encode(takes[1][2]).decode("ascii"))


def compare_height() -> int:
    """The comparison component's height in pixels (two lanes under the bar with the play button)."""
    return COMPARE_BAR_PX + 2 * (COMPARE_LANE_PX + COMPARE_LABEL_PX) + 8


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


def compare_along(takes: Sequence[tuple[str, Score, bytes, int]], *, mime: str = "audio/mpeg") -> bool:
    """Show two pieces on one time scale with one play button (:func:`compare_html`); False when too long.

    The labels are the page's own (take numbers and settings), escaped all the same.
    """
    import streamlit as st

    if any(len(audio) > MAX_INLINE_AUDIO_BYTES for _, _, audio, _ in takes):
        return False
    st.iframe(compare_html(takes, mime=mime), height=compare_height())
    return True


def roll_view(score: Score, *, highlight: Sequence[int] = (), primer_notes: int = 0, time_unit: str = "beats",
              height: int = VIEW_HEIGHT_PX) -> None:
    """Show :func:`roll_html` (no audio): a roll with the notes at ``highlight`` ringed."""
    import streamlit as st

    st.iframe(roll_html(score, highlight=highlight, primer_notes=primer_notes, time_unit=time_unit, height=height),
              height=height + 8)
