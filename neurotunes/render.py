"""Score -> audio with FluidSynth (the only importer of ``fluidsynth``).

Every call builds a fresh ``fluidsynth.Synth`` (a synth is never shared between
threads or sessions), schedules the notes itself and pulls the audio straight
into a preallocated float32 buffer between events, so note timing is exact to
the sample on our side (FluidSynth itself applies events at its 64-sample block
boundaries, about 1.5 ms at 44.1 kHz).

SoundFonts are loaded once per process: the first use of a file loads all its
samples into a *keeper* synth that is never played and only holds them in
FluidSynth's sample cache (shared by every synth of the process, keyed by file
and modification time), so each render's own synth finds the samples there
instead of reading the file again (FluidR3_GM: 0.1-0.4 s once, then about 25 ms).

Audio is returned as ``float32`` arrays of shape ``(frames, 2)``, loudness
normalised to :data:`~neurotunes.constants.RENDER_LOUDNESS_DB` (gated RMS) and
never above the :data:`~neurotunes.constants.RENDER_PEAK` ceiling;
:func:`audio_to_wav` and :func:`audio_to_mp3` encode it to bytes with ``soundfile``.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from . import constants as C
from ._quiet import quiet_import
from .errors import BadConfig, RenderError
from .midi_io import gm_program_names
from .score import Note, Score

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

SOUNDFONT_DIRS = (
    Path("/usr/share/sounds/sf2"),
    Path("/usr/share/sounds/sf3"),
    Path("/usr/share/soundfonts"),
)
SOUNDFONT_SUFFIXES = (".sf2", ".sf3")
EMBEDDED_SOUNDFONT_PACKAGE = "pretty_midi"
EMBEDDED_SOUNDFONT_NAME = "TimGM6mb.sf2"
OUTPUT_FORMATS = {".wav": "WAV", ".mp3": "MP3"}

# MIDI / FluidSynth facts, named rather than inlined.
_CHANNELS_PER_PORT = 16
_DRUM_CHANNEL = 9  # channel 10 in 1-based MIDI numbering (FluidSynth: every 16th from 9)
_MELODIC_BANK = 0
_DRUM_BANK = 128
_FALLBACK_PRESET = 0
_SYNTH_GAIN = 0.2  # headroom inside FluidSynth; the result is peak-normalised anyway
_STEREO = 2
_MAX_CHUNK_FRAMES = 1 << 16  # cap on one write call
_S16_FULL_SCALE = 32768.0
_RIFF_MAGIC = b"RIFF"
_SFBK_MAGIC = b"sfbk"
_RIFF_HEADER_BYTES = 12
_SFBK_OFFSET = 8
_FLUID_FAILED = -1
_FLUID_BLOCK_FRAMES = 64  # FluidSynth applies events at these block boundaries
_CC_CHORUS_SEND = 93
_CHORUS_SEND_LEVEL = 64
_TAIL_CHUNK_FRAMES = 4096  # after the last note, render in chunks until one is silent
_SILENT_SAMPLE = 1e-6  # FluidSynth output (before normalisation) this small is 120 dB down: silence
_MAX_SYNTH_THREADS = 4  # a long piece is rendered by this many synths side by side at most
_PARALLEL_MIN_SECONDS = 8.0  # shorter pieces render in one synth: threads would cost more than they save
_PARALLEL_MIN_NOTES = 32
#: SoundFonts kept loaded per process (each holds its samples in memory: FluidR3_GM about 140 MB).
MAX_LOADED_SOUNDFONTS = 3
# Loudness gating after ITU-R BS.1770 (400 ms blocks, 75% overlap, a silence gate and a -10 dB relative
# gate), applied to the plain mean square: no K-weighting filter, which would cost more than the render.
# The silence gate sits 70 dB below the loudest block rather than at -70 dBFS, so the measure does not
# depend on the level: normalising once lands on the target.
_LOUDNESS_BLOCK_S = 0.4
_LOUDNESS_HOP_S = 0.1
_SILENCE_GATE_DB = -70.0
_RELATIVE_GATE_DB = -10.0
_FLUID_LOG_LEVELS = {  # FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG
    0: logging.CRITICAL,
    1: logging.ERROR,
    2: logging.WARNING,
    3: logging.INFO,
    4: logging.DEBUG,
}


# --- locating SoundFonts ---------------------------------------------------
def _embedded_soundfont() -> Path | None:
    """pretty_midi's bundled TimGM6mb.sf2, found without importing pretty_midi."""
    try:
        spec = importlib.util.find_spec(EMBEDDED_SOUNDFONT_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / EMBEDDED_SOUNDFONT_NAME
        if candidate.is_file():
            return candidate
    return None


def find_soundfonts() -> list[Path]:
    """List the General MIDI SoundFonts available on this machine, best first.

    Returns
    -------
    list of Path
        The system FluidR3_GM (:data:`~neurotunes.constants.SYSTEM_SOUNDFONTS`)
        when installed, then any other ``.sf2``/``.sf3`` file in the usual
        system folders, then pretty_midi's embedded ``TimGM6mb.sf2``.  Each file
        appears once (symbolic links are resolved); broken links are skipped.
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return
        if real.is_file() and real not in seen:
            seen.add(real)
            found.append(path)

    for path in C.SYSTEM_SOUNDFONTS:
        add(path)
    for folder in SOUNDFONT_DIRS:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            if path.suffix.lower() in SOUNDFONT_SUFFIXES:
                add(path)
    embedded = _embedded_soundfont()
    if embedded is not None:
        add(embedded)
    return found


def default_soundfont() -> Path:
    """The SoundFont used when none is given: FluidR3_GM if installed, else TimGM6mb.

    Returns
    -------
    Path
        An existing SoundFont file.

    Raises
    ------
    RenderError
        Neither a system SoundFont nor pretty_midi's embedded one can be found.
    """
    for path in C.SYSTEM_SOUNDFONTS:
        if path.is_file():
            return path
    embedded = _embedded_soundfont()
    if embedded is not None:
        return embedded
    raise RenderError(
        "no SoundFont found: install one (e.g. `apt install fluid-soundfont-gm`) "
        "or reinstall pretty_midi, which ships TimGM6mb.sf2"
    )


@functools.lru_cache(maxsize=32)
def _soundfont_problem(path: str, size: int, mtime_ns: int) -> str | None:
    """Cheap header check, cached per process for each (file, size, mtime)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_RIFF_HEADER_BYTES)
    except OSError as exc:
        return f"cannot read SoundFont {Path(path).name}: {exc.strerror or exc}"
    if len(head) < _RIFF_HEADER_BYTES or not head.startswith(_RIFF_MAGIC) or head[_SFBK_OFFSET:] != _SFBK_MAGIC:
        return f"{Path(path).name} is not a SoundFont (.sf2/.sf3) file: it lacks the RIFF 'sfbk' header"
    return None


def _checked_soundfont(soundfont: str | Path | None) -> Path:
    path = default_soundfont() if soundfont is None else Path(soundfont)
    try:
        stat = path.stat()
    except OSError:
        raise RenderError(f"SoundFont not found: {path.name}; give an existing .sf2/.sf3 file") from None
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file"
        raise RenderError(f"SoundFont {path.name} is {what}; give a .sf2/.sf3 file")
    problem = _soundfont_problem(str(path), stat.st_size, stat.st_mtime_ns)
    if problem:
        raise RenderError(problem)
    return path


# --- FluidSynth plumbing ---------------------------------------------------
@functools.cache
def _fluidsynth() -> Any:
    """Import pyfluidsynth once (quietly), route libfluidsynth's log to :mod:`logging`."""
    try:
        fluidsynth = quiet_import("fluidsynth", log)
    except (ImportError, OSError) as exc:
        raise RenderError(
            f"FluidSynth is not available ({exc}); install libfluidsynth (apt install fluidsynth) and pyfluidsynth"
        ) from None
    _route_fluid_log(fluidsynth)
    return fluidsynth


_LOG_CALLBACK: Any = None  # keeps the ctypes callback alive for the life of the process


def _route_fluid_log(fluidsynth: Any) -> None:
    """Send FluidSynth's messages (which it prints to stderr) to our logger."""
    global _LOG_CALLBACK
    import ctypes

    set_log = fluidsynth.cfunc(
        "fluid_set_log_function",
        ctypes.c_void_p,
        ("level", ctypes.c_int, 1),
        ("fun", ctypes.c_void_p, 1),
        ("data", ctypes.c_void_p, 1),
    )
    if set_log is None:
        return
    fluid_log = logging.getLogger(f"{__name__}.fluidsynth")

    def _log(level: int, message: bytes | None, _data: Any) -> None:
        text = message.decode(errors="replace") if message else ""
        fluid_log.log(_FLUID_LOG_LEVELS.get(level, logging.DEBUG), "%s", text)

    _LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(_log)
    pointer = ctypes.cast(_LOG_CALLBACK, ctypes.c_void_p)
    for level in _FLUID_LOG_LEVELS:
        set_log(level, pointer, None)


@functools.cache
def _float_writer() -> Callable[..., int] | None:
    """``fluid_synth_write_float`` (pyfluidsynth only wraps the 16-bit writer)."""
    import ctypes

    return _fluidsynth().cfunc(
        "fluid_synth_write_float",
        ctypes.c_int,
        ("synth", ctypes.c_void_p, 1),
        ("len", ctypes.c_int, 1),
        ("lout", ctypes.c_void_p, 1),
        ("loff", ctypes.c_int, 1),
        ("lincr", ctypes.c_int, 1),
        ("rout", ctypes.c_void_p, 1),
        ("roff", ctypes.c_int, 1),
        ("rincr", ctypes.c_int, 1),
    )


def _write_frames(synth: Any, out: "np.ndarray", start: int, stop: int) -> None:
    """Render frames ``[start, stop)`` of the interleaved stereo buffer ``out``."""
    writer = _float_writer()
    item = out.itemsize
    while start < stop:
        count = min(stop - start, _MAX_CHUNK_FRAMES)
        if writer is not None:
            address = out.ctypes.data + start * _STEREO * item
            # left at even, right at odd float offsets, both stepping one frame
            if writer(synth.synth, count, address, 0, _STEREO, address, 1, _STEREO) == _FLUID_FAILED:
                raise RenderError("FluidSynth failed while rendering audio")
        else:  # pragma: no cover - every FluidSynth since 1.0 has write_float
            block = synth.get_samples(count).reshape(-1, _STEREO)
            out[start : start + count] = block / _S16_FULL_SCALE
        start += count


def _synth_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_SYNTH_THREADS))


def _new_synth(sample_rate: int, channels: int = _CHANNELS_PER_PORT, *, reverb: bool = False,
               chorus: bool = False) -> Any:
    synth = _fluidsynth().Synth(
        gain=_SYNTH_GAIN,
        samplerate=sample_rate,
        channels=channels,
        **{
            "synth.reverb.active": int(bool(reverb)),
            "synth.chorus.active": int(bool(chorus)),
            "synth.lock-memory": 0,  # never mlock a soundfont's samples
            # Whole soundfont at load: with the keeper holding it, a render's load is a cache hit.
            "synth.dynamic-sample-loading": 0,
        },
    )
    if not synth.synth:
        raise RenderError("FluidSynth could not create a synthesizer")
    return synth


def _sfload(synth: Any, path: Path) -> int:
    """Load ``path`` into ``synth``; its SoundFont id."""
    sfid = synth.sfload(str(path))
    if sfid == _FLUID_FAILED:
        raise RenderError(f"FluidSynth could not load the SoundFont {path.name} (corrupt or not a SoundFont?)")
    return sfid


class _SoundfontKeepers:
    """Per process, the SoundFonts in use, each loaded into a synth that is never played.

    FluidSynth shares a file's sample data between every synth that loads it
    while one still holds it; the keeper is that holder.  Least recently used
    files are let go beyond :data:`MAX_LOADED_SOUNDFONTS`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keepers: OrderedDict[tuple[str, int, int], Any] = OrderedDict()

    def hold(self, path: Path) -> float:
        """Make sure ``path`` is loaded; returns the seconds spent loading (0 when it already was)."""
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._keepers:
                self._keepers.move_to_end(key)
                return 0.0
            began = time.perf_counter()
            keeper = _new_synth(C.RENDER_SAMPLE_RATE)
            try:
                _sfload(keeper, path)
            except RenderError:
                keeper.delete()
                raise
            self._keepers[key] = keeper
            while len(self._keepers) > MAX_LOADED_SOUNDFONTS:
                _, old = self._keepers.popitem(last=False)
                old.delete()
            return time.perf_counter() - began

    def loaded(self) -> list[str]:
        with self._lock:
            return [k[0] for k in self._keepers]


_KEEPERS = _SoundfontKeepers()


def load_soundfont(soundfont: str | Path | None = None) -> Path:
    """Load a SoundFont once for this process (later renders with it skip reading the file).

    Parameters
    ----------
    soundfont
        Path of an ``.sf2``/``.sf3`` file; ``None`` loads :func:`default_soundfont`.

    Returns
    -------
    Path
        The loaded file.

    Raises
    ------
    RenderError
        Missing, not a SoundFont, or FluidSynth cannot load it (the process keeps running).
    """
    path = _checked_soundfont(soundfont)
    seconds = _KEEPERS.hold(path)
    if seconds:
        log.info("loaded SoundFont %s in %.2f s", path.name, seconds)
    return path


def loaded_soundfonts() -> list[str]:
    """Paths of the SoundFonts this process holds loaded, least recently used first."""
    return _KEEPERS.loaded()


def _assign_channels(groups: list[tuple[bool, int]]) -> tuple[dict[tuple[bool, int], int], int]:
    """Give each (is_drum, program) group its own channel; drums only on drum channels."""
    melodic = [g for g in groups if not g[0]]
    drums = [g for g in groups if g[0]]
    per_port = _CHANNELS_PER_PORT - 1  # one channel of every 16 is a drum channel
    ports = max(1, math.ceil(len(melodic) / per_port), len(drums))
    total = ports * _CHANNELS_PER_PORT
    melodic_channels = [c for c in range(total) if c % _CHANNELS_PER_PORT != _DRUM_CHANNEL]
    drum_channels = [c for c in range(total) if c % _CHANNELS_PER_PORT == _DRUM_CHANNEL]
    mapping = {g: melodic_channels[i] for i, g in enumerate(melodic)}
    mapping.update({g: drum_channels[i] for i, g in enumerate(drums)})
    return mapping, total


def _select(synth: Any, channel: int, sfid: int, is_drum: bool, program: int, soundfont: Path) -> None:
    bank = _DRUM_BANK if is_drum else _MELODIC_BANK
    if synth.program_select(channel, sfid, bank, program) == _FLUID_FAILED:
        kind = "drum kit" if is_drum else "program"
        log.warning("%s has no %s %d; using %d instead", soundfont.name, kind, program, _FALLBACK_PRESET)
        if synth.program_select(channel, sfid, bank, _FALLBACK_PRESET) == _FLUID_FAILED:
            raise RenderError(f"SoundFont {soundfont.name} has no preset in bank {bank}; "
                              "is it a General MIDI SoundFont?")


def _check_sample_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise BadConfig(f"sample rate must be a positive whole number of Hz, got {sample_rate!r}")
    return sample_rate


# --- public API ------------------------------------------------------------
def render_audio(
    score: Score,
    *,
    soundfont: str | Path | None = None,
    sample_rate: int = C.RENDER_SAMPLE_RATE,
    program: int | str | None = None,
    instruments: Mapping[int, int | str] | None = None,
    reverb: bool = True,
    chorus: bool = False,
) -> "np.ndarray":
    """Synthesize a Score with FluidSynth.

    Parameters
    ----------
    score
        The piece.  Each (program, is_drum) group plays on its own MIDI
        channel; drums use a drum channel with bank 128 (the note's program
        picks the drum kit).
    soundfont
        Path of an ``.sf2``/``.sf3`` file; ``None`` uses :func:`default_soundfont`.
    sample_rate
        Output sample rate in Hz.
    program
        General MIDI program (0-127) or instrument name (``"Violin"``) that
        replaces every pitched note's program; drum notes keep their kit.
        ``None`` keeps the score's programs.
    instruments
        Per track: ``{program in the score: new program or instrument name}``;
        tracks not named keep theirs.  Applied after ``program``.
    reverb, chorus
        Use FluidSynth's reverb / chorus.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(frames, 2)``: the piece plus
        :data:`~neurotunes.constants.RENDER_TAIL_SECONDS` of ring-out, loudness
        normalised by :func:`normalize_loudness` (a silent render stays all zeros).

    Raises
    ------
    RenderError
        The score has no notes, the SoundFont is missing or cannot be loaded,
        or FluidSynth is unavailable.
    BadConfig
        ``program``, ``instruments`` or ``sample_rate`` is out of range or unknown.
    """
    import numpy as np

    if not isinstance(score, Score):
        raise RenderError(f"render_audio needs a Score, got {type(score).__name__}")
    if not score.notes:
        raise RenderError("nothing to render: the piece has no notes")
    sample_rate = _check_sample_rate(sample_rate)
    remap = {src: gm_program(dst) for src, dst in (instruments or {}).items()}
    if program is not None:
        program = gm_program(program)
    path = load_soundfont(soundfont)
    began = time.perf_counter()

    def group_of(note: Any) -> tuple[bool, int]:
        if note.is_drum:
            return (True, note.program)
        chosen = note.program if program is None else program
        return (False, remap.get(note.program, chosen))

    groups = sorted({group_of(n) for n in score.notes})
    channels, n_channels = _assign_channels(groups)

    # (on frame, off frame, channel, pitch, velocity) per note, in onset order
    spans = sorted(
        (on, max(round(note.end * sample_rate), on + 1), channels[group_of(note)], note.pitch, note.velocity)
        for note in score.notes
        for on in (round(note.start * sample_rate),)
    )
    tail = round(C.RENDER_TAIL_SECONDS * sample_rate)
    total_frames = max(span[1] for span in spans) + tail
    parts = _split_by_onset(spans, _parallel_parts(score))
    programs = {channel: group for group, channel in channels.items()}

    def render_part(part: list[tuple[int, int, int, int, int]]) -> tuple[int, "np.ndarray"]:
        first = part[0][0] // _FLUID_BLOCK_FRAMES * _FLUID_BLOCK_FRAMES  # same event timing as one synth
        buffer = np.zeros((total_frames - first, _STEREO), dtype=np.float32)  # pages are touched as written
        synth = _new_synth(sample_rate, n_channels, reverb=reverb, chorus=chorus)
        try:
            sfid = _sfload(synth, path)  # a cache hit: the keeper holds this file's samples
            for channel in sorted({span[2] for span in part}):
                _select(synth, channel, sfid, *programs[channel], path)
                if chorus:  # General MIDI's chorus send (CC 93) starts at 0: nothing would reach the chorus
                    synth.cc(channel, _CC_CHORUS_SEND, _CHORUS_SEND_LEVEL)
            used = _play(synth, part, buffer, first)
        finally:
            synth.delete()
        return first, buffer[:used]

    if len(parts) == 1:
        rendered = [render_part(parts[0])]
    else:  # one synth per thread; ctypes releases the GIL while FluidSynth renders
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="neurotunes-render") as pool:
            rendered = list(pool.map(render_part, parts))
    audio = np.zeros((total_frames, _STEREO), dtype=np.float32)
    for first, buffer in rendered:
        audio[first : first + len(buffer)] += buffer
    normalize_loudness(audio, sample_rate)
    log.debug("rendered %d notes, %.1f s with %s in %d part(s): %.3f s", len(score.notes),
              total_frames / sample_rate, path.name, len(parts), time.perf_counter() - began)
    return audio


def _parallel_parts(score: Score) -> int:
    """How many synths render a piece side by side: one per core for long, busy pieces."""
    if score.duration < _PARALLEL_MIN_SECONDS or len(score.notes) < _PARALLEL_MIN_NOTES:
        return 1
    return _synth_threads()


def _split_by_onset(spans: list[tuple[int, int, int, int, int]], parts: int) -> list[list[tuple[int, int, int, int, int]]]:
    """Cut notes (in onset order) into ``parts`` runs of about equal size, never inside a chord.

    Each run is rendered by its own synth from its first onset until its last
    note has rung out; the runs' audio is summed.  FluidSynth's voices and its
    reverb are linear, so the sum sounds as one synth playing everything.
    """
    cuts = [0]
    for i in range(1, parts):
        cut = max(i * len(spans) // parts, cuts[-1] + 1)
        while cut < len(spans) and spans[cut][0] == spans[cut - 1][0]:
            cut += 1
        if cut >= len(spans):
            break
        cuts.append(cut)
    cuts.append(len(spans))
    return [spans[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]


def _play(synth: Any, spans: list[tuple[int, int, int, int, int]], buffer: "np.ndarray", first: int) -> int:
    """Play notes on ``synth`` into ``buffer``, whose frame 0 is frame ``first`` of the piece.

    After the last note-off the synth keeps rendering until its release and
    reverb tails have died away (or the buffer is full); returns the frames written.
    """
    import numpy as np

    # (frame, 0 = off / 1 = on, channel, pitch, velocity): offs sort before ons at one frame
    events = sorted(
        event
        for on, off, channel, pitch, velocity in spans
        for event in ((on - first, 1, channel, pitch, velocity), (off - first, 0, channel, pitch, 0))
    )
    sounding: dict[tuple[int, int], int] = {}  # overlapping same-key notes: release on the last off
    cursor = 0
    for frame, is_on, channel, pitch, velocity in events:
        if frame > cursor:
            _write_frames(synth, buffer, cursor, frame)
            cursor = frame
        key = (channel, pitch)
        if is_on:
            sounding[key] = sounding.get(key, 0) + 1
            synth.noteon(channel, pitch, velocity)
        else:
            sounding[key] -= 1
            if sounding[key] == 0:
                del sounding[key]
                synth.noteoff(channel, pitch)
    while cursor < len(buffer):
        stop = min(cursor + _TAIL_CHUNK_FRAMES, len(buffer))
        _write_frames(synth, buffer, cursor, stop)
        quiet = not np.any(np.abs(buffer[cursor:stop]) > _SILENT_SAMPLE)
        cursor = stop
        if quiet:
            break
    return cursor


def loudness_db(audio: "np.ndarray", sample_rate: int = C.RENDER_SAMPLE_RATE) -> float:
    """Gated RMS loudness in dB relative to full scale (BS.1770 gating, no K-weighting).

    The mean square over channels in 400 ms blocks (100 ms apart); blocks 70 dB
    below the loudest, then those 10 dB below the mean of the rest, are left out,
    so rests and ring-out do not make a sparse piece look quiet.  ``-inf`` for silence.
    """
    import numpy as np

    data = np.asarray(audio, dtype=np.float32)
    frames = data.reshape(len(data), -1)
    power = np.einsum("ij,ij->i", frames, frames) / frames.shape[1]  # no float64 copy of the audio
    hop = max(1, round(_LOUDNESS_HOP_S * sample_rate))
    hops_per_block = max(1, round(_LOUDNESS_BLOCK_S / _LOUDNESS_HOP_S))
    n_hops = len(power) // hop
    if n_hops < hops_per_block:
        blocks = np.array([power.mean(dtype=np.float64)]) if len(power) else np.zeros(0)
    else:
        per_hop = power[: n_hops * hop].reshape(n_hops, hop).sum(axis=1, dtype=np.float64)
        window = np.convolve(per_hop, np.ones(hops_per_block), mode="valid")
        blocks = window / (hop * hops_per_block)
    if not blocks.size or blocks.max() <= 0.0:
        return float("-inf")
    blocks = blocks[blocks > blocks.max() * 10 ** (_SILENCE_GATE_DB / 10)]
    blocks = blocks[blocks > blocks.mean() * 10 ** (_RELATIVE_GATE_DB / 10)]
    return float(10 * np.log10(blocks.mean()))


def normalize_loudness(
    audio: "np.ndarray",
    sample_rate: int = C.RENDER_SAMPLE_RATE,
    *,
    target_db: float = C.RENDER_LOUDNESS_DB,
    peak: float = C.RENDER_PEAK,
) -> float:
    """Scale ``audio`` in place to ``target_db`` gated loudness, never letting a sample pass ``peak``.

    Quiet pieces are raised and loud ones lowered to the same loudness; where the
    target would push a sample over the ceiling, the gain stops at the ceiling
    instead (no clipping, no limiter colouring the sound).  Silence stays zeros.

    Returns
    -------
    float
        The gain applied (1.0 for silence).

    Raises
    ------
    RenderError
        The audio holds NaN or infinite samples.
    """
    import numpy as np

    top = max(float(audio.max()), -float(audio.min())) if audio.size else 0.0
    if not math.isfinite(top):
        raise RenderError("FluidSynth produced invalid samples (NaN or infinity)")
    level = loudness_db(audio, sample_rate)
    if top == 0.0 or not math.isfinite(level):
        return 1.0
    gain = min(10 ** ((target_db - level) / 20), peak / top)
    audio *= np.float32(gain)  # at most peak (to float rounding): the gain stops at the ceiling
    return gain


@functools.cache
def _gm_names() -> dict[str, int]:
    return {name.lower(): i for i, name in enumerate(gm_program_names())}


def gm_program(instrument: int | str) -> int:
    """A General MIDI program number from a number (0-127) or an instrument name (``"Violin"``, any case).

    Raises
    ------
    BadConfig
        Out of range, or no General MIDI instrument has that name.
    """
    if isinstance(instrument, str):
        text = instrument.strip()
        if text.isdigit():
            instrument = int(text)
        else:
            try:
                return _gm_names()[text.lower()]
            except KeyError:
                raise BadConfig(f"no General MIDI instrument is called {instrument!r} "
                                "(e.g. 'Acoustic Grand Piano', 'Violin', 'Flute')") from None
    if isinstance(instrument, bool) or not isinstance(instrument, int) or not 0 <= instrument <= C.MIDI_PROGRAM_MAX:
        raise BadConfig(f"instrument program must be 0-{C.MIDI_PROGRAM_MAX}, got {instrument!r}")
    return instrument


def _checked(audio: "np.ndarray", fmt: str) -> "np.ndarray":
    import numpy as np

    data = np.asarray(audio)
    if data.ndim not in (1, 2) or data.shape[0] == 0 or (data.ndim == 2 and data.shape[1] == 0):
        raise RenderError(f"cannot encode {fmt}: expected (frames,) or (frames, channels) audio, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.floating):
        raise RenderError(f"cannot encode {fmt}: expected float samples in [-1, 1], got {data.dtype}")
    return data


def _encode(audio: "np.ndarray", sample_rate: int, fmt: str, subtype: str) -> bytes:
    import numpy as np
    import soundfile as sf

    sample_rate = _check_sample_rate(sample_rate)
    data = _checked(audio, fmt)
    buffer = io.BytesIO()
    try:
        sf.write(buffer, data.astype(np.float32, copy=False), sample_rate, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise RenderError(f"could not encode {fmt}: {exc}") from None
    return buffer.getvalue()


def audio_to_wav(audio: "np.ndarray", sample_rate: int = C.RENDER_SAMPLE_RATE) -> bytes:
    """Encode float audio as 16-bit PCM WAV bytes.

    Parameters
    ----------
    audio
        Float samples in [-1, 1], shape ``(frames,)`` or ``(frames, channels)``.
    sample_rate
        Sample rate in Hz.

    Returns
    -------
    bytes
        A complete WAV file.

    Raises
    ------
    RenderError
        Empty or non-float audio, or the encoder failed.
    """
    return _encode(audio, sample_rate, "WAV", "PCM_16")


#: MP3 settings.  libsndfile's LAME (its only knob is a VBR level) took 1.1-1.5 s for a 30 s stereo take, the
#: largest cost of a Generate; LAME at quality 5 (its own default, "good speed and quality") and 160 kbps takes
#: 0.36 s on the same take and machine.
MP3_KBPS = 160
MP3_LAME_QUALITY = 5


def audio_to_mp3(audio: "np.ndarray", sample_rate: int = C.RENDER_SAMPLE_RATE) -> bytes:
    """Encode float audio as MP3 bytes (LAME through lameenc, or libsndfile's LAME without it; no ffmpeg).

    Parameters
    ----------
    audio
        Float samples in [-1, 1], shape ``(frames,)`` or ``(frames, channels)``.
    sample_rate
        Sample rate in Hz (one MP3 supports, e.g. 44100 or 48000).

    Returns
    -------
    bytes
        A complete MP3 file.

    Raises
    ------
    RenderError
        Empty or non-float audio, an unsupported sample rate, or the encoder failed.
    """
    try:
        import lameenc
    except ImportError:  # a platform without its wheel: libsndfile's LAME, slower
        return _encode(audio, sample_rate, "MP3", "MPEG_LAYER_III")
    import numpy as np

    sample_rate = _check_sample_rate(sample_rate)
    data = _checked(audio, "MP3")
    channels = 1 if data.ndim == 1 else data.shape[1]
    if channels > 2:
        raise RenderError(f"cannot encode MP3: at most 2 channels, got {channels}")
    pcm = (np.clip(data, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    try:
        encoder = lameenc.Encoder()
        encoder.set_in_sample_rate(sample_rate)
        encoder.set_channels(channels)
        encoder.set_bit_rate(MP3_KBPS)
        encoder.set_quality(MP3_LAME_QUALITY)
        return bytes(encoder.encode(pcm) + encoder.flush())
    except (RuntimeError, ValueError) as exc:
        raise RenderError(f"could not encode MP3: {exc}") from None


def score_to_wav(score: Score, **kwargs: Any) -> bytes:
    """Render a Score and encode it as 16-bit stereo WAV bytes.

    ``kwargs`` go to :func:`render_audio` (``soundfont``, ``sample_rate``, ``program``,
    ``instruments``, ``reverb``, ``chorus``).
    """
    return _render_encoded(score, audio_to_wav, kwargs)


def score_to_mp3(score: Score, **kwargs: Any) -> bytes:
    """Render a Score and encode it as stereo MP3 bytes; ``kwargs`` as for :func:`score_to_wav`."""
    return _render_encoded(score, audio_to_mp3, kwargs)


def _render_encoded(score: Score, encode: Any, kwargs: dict[str, Any]) -> bytes:
    return encode(render_audio(score, **kwargs), kwargs.get("sample_rate", C.RENDER_SAMPLE_RATE))


def render_file(score: Score, path: str | Path, **kwargs: Any) -> Path:
    """Render a Score to an audio file whose format follows the suffix.

    Parameters
    ----------
    score
        The piece.
    path
        Destination ending in ``.wav`` or ``.mp3``.
    **kwargs
        Passed to :func:`render_audio`.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    RenderError
        Unsupported suffix, rendering failed, or the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        supported = ", ".join(OUTPUT_FORMATS)
        raise RenderError(f"cannot render to {path.name!r}: supported audio formats are {supported}")
    data = score_to_wav(score, **kwargs) if OUTPUT_FORMATS[suffix] == "WAV" else score_to_mp3(score, **kwargs)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


#: Uploaded soundfonts larger than this are refused.
MAX_SOUNDFONT_MB = C.MAX_UPLOAD_MB  # the same cap as every upload (.streamlit/config.toml)


def install_soundfont(data: bytes, name: str, folder: Path) -> Path:
    """Check an uploaded .sf2/.sf3 (size, header, and a real FluidSynth load) and keep it in ``folder``.

    The file is stored under its content hash, so the same upload is kept once.

    Raises
    ------
    RenderError
        Too large, not a SoundFont, or FluidSynth cannot load it; the running process is unaffected.
    """
    import hashlib

    if not data:
        raise RenderError(f"{name} is empty")
    if len(data) > MAX_SOUNDFONT_MB * 1024 * 1024:
        raise RenderError(f"{name} is over {MAX_SOUNDFONT_MB} MB")
    suffix = Path(name).suffix.lower()
    if suffix not in SOUNDFONT_SUFFIXES:
        raise RenderError(f"{name}: soundfonts are .sf2 or .sf3 files")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    try:
        render_audio(Score(notes=(Note(start=0.0, end=0.1, pitch=60),)), soundfont=path, reverb=False)
    except (RenderError, OSError) as exc:
        path.unlink(missing_ok=True)
        # The message names the stored copy (its hash); the user knows the file by the name they uploaded.
        reason = str(exc).replace(str(path), name).replace(path.name, name)
        raise RenderError(f"{name} cannot be used: {reason}") from None
    return path
