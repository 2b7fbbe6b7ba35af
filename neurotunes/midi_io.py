"""MIDI bytes <-> :class:`~neurotunes.score.Score` (the only importer of pretty_midi/mido).

A Score's metadata travels inside the MIDI file as one text meta event
(``neurotunes:{json}``), so a generated file carries its own recipe.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

from . import constants as C
from ._quiet import quiet_import
from .errors import BadMidi, BadScore
from .keys import Key
from .score import Note, Score
from .text import printable_name

log = logging.getLogger(__name__)

METADATA_PREFIX = "neurotunes:"
MIDI_MAGIC = b"MThd"


def _pm():
    # imported on first use (keeps `import neurotunes` light); it imports pyfluidsynth, which may print
    return quiet_import("pretty_midi", log)


#: A piece whose notes all fit in less than this is a broken file, not music.
MIN_PIECE_SECONDS = 0.02


def midi_to_score(data: bytes, *, name: str = "MIDI file", drop_drums: bool = True) -> Score:
    """Parse Standard MIDI File bytes into a Score.

    Parameters
    ----------
    data
        The file's bytes.
    name
        File name used in error messages.
    drop_drums
        Remove percussion (channel 10) notes, which have no pitch meaning.

    Raises
    ------
    BadMidi
        Empty, oversized or corrupt file, absurd timing, or no usable notes.
    """
    if not data:
        raise BadMidi(f"{name} is empty (0 bytes)")
    if len(data) > C.MAX_UPLOAD_MB * 1024 * 1024:
        raise BadMidi(f"{name} is {len(data) / 1e6:.0f} MB; MIDI files over {C.MAX_UPLOAD_MB} MB are refused")
    if not data.startswith(MIDI_MAGIC):
        raise BadMidi(f"{name} is not a MIDI file (it does not start with a MIDI header)")
    pretty_midi = _pm()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except EOFError:
        raise BadMidi(f"{name} could not be read as MIDI: it ends too early (truncated?)") from None
    except Exception as exc:  # mido raises many types (OSError, KeyError, ValueError, ...)
        raise BadMidi(f"{name} could not be read as MIDI ({exc or type(exc).__name__})") from None

    tempo = file_tempo = C.DEFAULT_TEMPO_BPM
    _, tempi = pm.get_tempo_changes()
    if len(tempi) and math.isfinite(tempi[0]):
        file_tempo = float(tempi[0])
        tempo = float(min(max(file_tempo, C.MIN_TEMPO_BPM), C.MAX_TEMPO_BPM))
    ts = C.DEFAULT_TIME_SIGNATURE
    if pm.time_signature_changes:
        first = pm.time_signature_changes[0]
        ts = (int(first.numerator), int(first.denominator))
    key = None
    if pm.key_signature_changes:
        key = Key.parse(pretty_midi.key_number_to_key_name(pm.key_signature_changes[0].key_number))

    metadata: dict[str, Any] = {}
    for text in getattr(pm, "text_events", []):
        if text.text.startswith(METADATA_PREFIX):
            try:
                loaded = json.loads(text.text[len(METADATA_PREFIX):])
            except ValueError:
                log.warning("ignoring unreadable NeuroTunes metadata in %s", name)
                continue
            if isinstance(loaded, dict):
                metadata = loaded
    metadata.setdefault("source", name)

    notes = []
    drums = 0
    try:
        for inst in pm.instruments:
            for n in inst.notes:
                if inst.is_drum:
                    drums += 1
                    if drop_drums:
                        continue
                if n.end <= n.start:  # zero-length notes carry no sound; skip them
                    continue
                notes.append(
                    Note(
                        pitch=int(n.pitch),
                        start=float(n.start),
                        end=float(n.end),
                        velocity=max(1, int(n.velocity)),
                        program=int(inst.program),
                        is_drum=bool(inst.is_drum),
                    )
                )
        if not notes:
            if drums:
                raise BadMidi(f"{name} has only drum notes ({drums}); NeuroTunes needs pitched notes")
            raise BadMidi(f"{name} has no notes")
        span = max(n.end for n in notes) - min(n.start for n in notes)
        if span < MIN_PIECE_SECONDS:
            raise BadMidi(f"{name}: all its notes fit into {span * 1000:.3f} ms, too short to hear "
                          f"(its tempo says {file_tempo:,.0f} BPM; is the file's timing broken?)")
        if tempo != file_tempo:
            log.warning("%s: tempo %.4g BPM is outside %g-%g BPM; using %g for its beat grid", name, file_tempo,
                        C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM, tempo)
        ts_valid = ts if ts[1] in (1, 2, 4, 8, 16, 32) and ts[0] > 0 else C.DEFAULT_TIME_SIGNATURE
        return Score(notes=tuple(notes), tempo_bpm=tempo, time_signature=ts_valid, key=key, metadata=metadata)
    except BadScore as exc:
        raise BadMidi(f"{name}: {exc}") from None


def score_to_midi(score: Score, *, voices: Sequence[tuple[str, Sequence[int]]] = ()) -> bytes:
    """Write a Score as Standard MIDI File bytes: one track per program, or one named track per voice.

    ``voices``: ``(name, indices in score.notes)`` per track (a chorale's soprano, alto, ...); notes in no voice
    go to tracks by program as usual.
    """
    pretty_midi = _pm()
    pm = pretty_midi.PrettyMIDI(initial_tempo=score.tempo_bpm, resolution=C.MIDI_TICKS_PER_BEAT)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*score.time_signature, 0.0))
    if score.key:
        pm.key_signature_changes.append(pretty_midi.KeySignature(_midi_key_number(score.key), 0.0))

    def add(inst: Any, n: Any) -> None:
        inst.notes.append(pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.start, end=n.end))

    in_voice = set()
    for name, indices in voices:
        notes = [score.notes[i] for i in indices]
        inst = pretty_midi.Instrument(program=notes[0].program if notes else 0, name=name)
        for n in notes:
            add(inst, n)
        in_voice.update(indices)
        pm.instruments.append(inst)
    instruments: dict[tuple[int, bool], Any] = {}
    for i, n in enumerate(score.notes):
        if i in in_voice:
            continue
        inst = instruments.get((n.program, n.is_drum))
        if inst is None:
            inst = pretty_midi.Instrument(program=n.program, is_drum=n.is_drum)
            instruments[(n.program, n.is_drum)] = inst
        add(inst, n)
    pm.instruments.extend(instruments.values())
    if score.metadata:
        pm.text_events.append(pretty_midi.Text(METADATA_PREFIX + json.dumps(dict(score.metadata)), 0.0))
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _midi_key_number(key: Key) -> int:
    """pretty_midi's key number: the tonic pitch class, plus 12 for minor (0 = C major, 21 = A minor)."""
    return key.tonic + (12 if key.mode == "minor" else 0)


def read_midi(path: str | Path, **kwargs: Any) -> Score:
    """Read a MIDI file from disk (wraps :func:`midi_to_score`).

    The size cap is checked before reading, so a huge (or sparse) file is refused without loading it.
    """
    path = Path(path)
    name = printable_name(path.name)
    try:
        if path.is_dir():
            raise BadMidi(f"{printable_name(str(path))} is a folder, not a MIDI file")
        size = path.stat().st_size
        if size > C.MAX_UPLOAD_MB * 1024 * 1024:
            raise BadMidi(f"{name} is {size / 1e6:.0f} MB; MIDI files over {C.MAX_UPLOAD_MB} MB are refused")
        data = path.read_bytes()
    except OSError as exc:
        raise BadMidi(f"cannot read {printable_name(str(path))}: {exc.strerror or exc}") from None
    return midi_to_score(data, name=name, **kwargs)


def write_midi(score: Score, path: str | Path) -> Path:
    """Write a Score to a MIDI file on disk.

    The bytes go to a temporary file in the same folder that then replaces ``path``, so a failed
    write (a full disk, an interrupted run) never leaves a half-written MIDI file behind.
    """
    path = Path(path)
    data = score_to_midi(score)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:  # name the file the caller asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        partial.unlink(missing_ok=True)
    return path


@functools.cache
def gm_program_names() -> tuple[str, ...]:
    """The 128 General MIDI instrument names, program 0 first."""
    pretty_midi = _pm()
    return tuple(pretty_midi.program_to_instrument_name(p) for p in range(C.MIDI_PROGRAM_MAX + 1))
