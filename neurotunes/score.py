"""The one data type that flows through NeuroTunes: a frozen :class:`Score`.

Times are in seconds (like pretty_midi and note-seq); ``tempo_bpm`` converts
them to beats where a stage needs a musical grid.  Every transform returns a
new Score and never mutates its argument.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from . import constants as C
from .errors import BadConfig, BadScore
from .keys import PITCH_CLASS_NAMES, Key


def pitch_name(pitch: int) -> str:
    """Scientific pitch name, e.g. ``60 -> 'C4'``."""
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def pitch_from_name(name: str) -> int:
    """``'C4' -> 60``, ``'F#3' -> 54``, ``'Eb5' -> 75``, ``'C-1' -> 0`` (the names :func:`pitch_name` writes)."""
    m = re.fullmatch(r"([A-Ga-g])([#b-]*)(-?\d+)", name.strip())
    if not m:
        raise ValueError(f"not a pitch name: {name!r}")
    letter, accidentals, octave = m.groups()
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[letter.upper()]
    shift = accidentals.count("#") - accidentals.count("b")
    return (int(octave) + 1) * 12 + base + shift


def _stored_key(value: Any) -> Any:
    """A key as Score JSON stores it.  Before keys.py a Score kept any text its file gave, modes such as
    "D dorian" included, and treated text it could not read as no key: such JSON still reads, as no key."""
    if not isinstance(value, str):
        return value  # None, or a wrong type that the constructor names
    try:
        return Key.parse(value)
    except BadConfig:
        return None


@dataclass(frozen=True, order=True)
class Note:
    """One note: MIDI pitch, onset and offset in seconds, velocity, GM program."""

    start: float
    end: float
    pitch: int
    velocity: int = C.DEFAULT_VELOCITY
    program: int = C.DEFAULT_PROGRAM
    is_drum: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.pitch, int) or not C.MIDI_PITCH_MIN <= self.pitch <= C.MIDI_PITCH_MAX:
            raise BadScore(f"note pitch must be an integer 0-127, got {self.pitch!r}")
        if not isinstance(self.velocity, int) or not C.MIDI_VELOCITY_MIN <= self.velocity <= C.MIDI_VELOCITY_MAX:
            raise BadScore(f"note velocity must be an integer 1-127, got {self.velocity!r}")
        if not isinstance(self.program, int) or not 0 <= self.program <= C.MIDI_PROGRAM_MAX:
            raise BadScore(f"instrument program must be 0-127, got {self.program!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BadScore(f"note {name} must be a finite number of seconds, got {value!r}")
        if self.start < 0:
            raise BadScore(f"note starts before time 0 ({self.start:.3f} s)")
        if self.end <= self.start:
            raise BadScore(
                f"note {pitch_name(self.pitch)} ends ({self.end:.3f} s) before it starts ({self.start:.3f} s)"
            )
        if self.end > C.MAX_SCORE_SECONDS:
            raise BadScore(f"note ends at {self.end:.0f} s; pieces longer than {C.MAX_SCORE_SECONDS:.0f} s are refused")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def name(self) -> str:
        return pitch_name(self.pitch)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pitch": self.pitch,
            "start": self.start,
            "end": self.end,
            "velocity": self.velocity,
            "program": self.program,
            "is_drum": self.is_drum,
        }


@dataclass(frozen=True)
class Score:
    """An immutable piece of music.

    Parameters
    ----------
    notes
        The notes, kept sorted by (start, pitch).
    tempo_bpm
        Quarter notes per minute; used to map seconds to beats.
    time_signature
        ``(numerator, denominator)``.
    key
        The key the file names, or ``None`` if unknown.  Text (``"Eb major"``, music21's
        ``"E- major"``, older Score JSON) is read with :meth:`~neurotunes.keys.Key.parse`.
    metadata
        Provenance: source file, transcription/generation settings, ... (JSON values).
    """

    notes: tuple[Note, ...] = ()
    tempo_bpm: float = C.DEFAULT_TEMPO_BPM
    time_signature: tuple[int, int] = C.DEFAULT_TIME_SIGNATURE
    key: Key | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        notes = tuple(self.notes)
        if len(notes) > C.MAX_NOTES:
            raise BadScore(f"piece has {len(notes):,} notes; at most {C.MAX_NOTES:,} are supported")
        if any(not isinstance(n, Note) for n in notes):
            raise BadScore("a Score holds Note objects only")
        object.__setattr__(self, "notes", tuple(sorted(notes, key=lambda n: (n.start, n.pitch, n.end))))
        tempo = self.tempo_bpm
        if not isinstance(tempo, (int, float)) or not math.isfinite(tempo) or not C.MIN_TEMPO_BPM <= tempo <= C.MAX_TEMPO_BPM:
            raise BadScore(f"tempo must be {C.MIN_TEMPO_BPM:g}-{C.MAX_TEMPO_BPM:g} BPM, got {tempo!r}")
        object.__setattr__(self, "tempo_bpm", float(tempo))
        ts = tuple(self.time_signature)
        if len(ts) != 2 or not all(isinstance(v, int) and v > 0 for v in ts) or ts[1] not in (1, 2, 4, 8, 16, 32):
            raise BadScore(f"time signature must be like (4, 4), got {self.time_signature!r}")
        object.__setattr__(self, "time_signature", ts)
        if isinstance(self.key, str):  # the edge where text becomes a Key: files, JSON, callers' strings
            try:
                object.__setattr__(self, "key", Key.parse(self.key))
            except BadConfig as exc:
                raise BadScore(f"score key: {exc}") from None
        elif self.key is not None and not isinstance(self.key, Key):
            raise BadScore(f"score key must be a Key or text such as 'Eb major', got {self.key!r}")
        try:
            meta = json.loads(json.dumps(dict(self.metadata)))
        except (TypeError, ValueError) as exc:
            raise BadScore(f"metadata must be JSON values: {exc}") from None
        object.__setattr__(self, "metadata", MappingProxyType(meta))

    # --- derived -------------------------------------------------------
    @property
    def duration(self) -> float:
        """Seconds until the last note ends (0 for an empty score)."""
        return max((n.end for n in self.notes), default=0.0)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def pitch_range(self) -> tuple[int, int] | None:
        pitched = [n.pitch for n in self.notes if not n.is_drum]
        return (min(pitched), max(pitched)) if pitched else None

    def __len__(self) -> int:
        return len(self.notes)

    def pitch_list(self) -> list[int]:
        """Pitches of the pitched notes, in time order."""
        return [n.pitch for n in self.notes if not n.is_drum]

    def __hash__(self) -> int:  # MappingProxyType is unhashable; hash the JSON form
        return hash(self.to_json())

    # --- transforms (each returns a new Score) -----------------------
    def replace(self, **changes: Any) -> "Score":
        return replace(self, **changes)

    def with_notes(self, notes: Iterable[Note]) -> "Score":
        return replace(self, notes=tuple(notes))

    def with_metadata(self, **items: Any) -> "Score":
        return replace(self, metadata={**self.metadata, **items})

    def without_drums(self) -> "Score":
        return self.with_notes(n for n in self.notes if not n.is_drum)

    def transpose(self, semitones: int) -> "Score":
        """Shift every pitched note, and the key with them; notes pushed outside 0-127 are dropped."""
        moved = [
            replace(n, pitch=n.pitch + semitones)
            for n in self.notes
            if n.is_drum is False and 0 <= n.pitch + semitones <= 127
        ]
        drums = [n for n in self.notes if n.is_drum]
        key = self.key.transpose(semitones) if self.key else None
        return replace(self, notes=tuple(moved + drums), key=key)

    def with_program(self, program: int) -> "Score":
        return self.with_notes(replace(n, program=program) for n in self.notes)

    def with_instruments(self, programs: Mapping[int, int]) -> "Score":
        """Give tracks other instruments: ``{program now: new program}``; drums and unnamed tracks keep theirs."""
        return self.with_notes(
            n if n.is_drum else replace(n, program=programs.get(n.program, n.program)) for n in self.notes
        )

    def with_tempo(self, tempo_bpm: float) -> "Score":
        """Play the same beats at another tempo (times are rescaled)."""
        factor = self.tempo_bpm / float(tempo_bpm)
        notes = [replace(n, start=n.start * factor, end=n.end * factor) for n in self.notes]
        return replace(self, notes=tuple(notes), tempo_bpm=float(tempo_bpm))

    def shifted(self, seconds: float) -> "Score":
        """Move every note later by ``seconds`` (>= 0)."""
        return self.with_notes(replace(n, start=n.start + seconds, end=n.end + seconds) for n in self.notes)

    # --- clean-up for datasets (each returns a new Score) ---------------
    def quantized(self, steps_per_quarter: int, *, tempo_bpm: float | None = None) -> "Score":
        """Snap onsets and offsets to a grid of ``steps_per_quarter`` steps per beat.

        Every note keeps at least one step; notes of one pitch that land on the
        same onset merge into the longest.
        """
        if steps_per_quarter < 1:
            raise BadScore("the quantization grid needs at least one step per beat")
        step = 60.0 / float(tempo_bpm or self.tempo_bpm) / steps_per_quarter
        merged: dict[tuple[int, int, bool], Note] = {}
        for n in self.notes:
            on = int(round(n.start / step))
            off = max(int(round(n.end / step)), on + 1)
            key = (on, n.pitch, n.is_drum)
            if key not in merged or merged[key].end < off * step:
                merged[key] = replace(n, start=on * step, end=off * step)
        return self.with_notes(merged.values())

    def top_line(self) -> "Score":
        """A monophonic melody: the highest note at each onset, cut where the next one starts."""
        pitched = [n for n in self.notes if not n.is_drum]
        tops: dict[float, Note] = {}
        for n in pitched:
            if n.start not in tops or n.pitch > tops[n.start].pitch:
                tops[n.start] = n
        ordered = [tops[t] for t in sorted(tops)]
        line = []
        for cur, nxt in zip(ordered, ordered[1:] + [None]):
            end = min(cur.end, nxt.start) if nxt is not None else cur.end
            if end > cur.start:
                line.append(replace(cur, end=end))
        return self.with_notes(line)

    def without_short_notes(self, min_seconds: float) -> "Score":
        """Drop notes shorter than ``min_seconds`` (ghost notes, transcription blips)."""
        return self.with_notes(n for n in self.notes if n.duration >= min_seconds)

    def with_normalized_velocity(self, loudest: int = 100) -> "Score":
        """Scale velocities so the loudest note has velocity ``loudest`` (1-127)."""
        if not self.notes:
            return self
        if not 1 <= loudest <= C.MIDI_VELOCITY_MAX:
            raise BadScore(f"target velocity must be 1-127, got {loudest}")
        peak = max(n.velocity for n in self.notes)
        factor = loudest / peak
        return self.with_notes(
            replace(n, velocity=int(min(max(round(n.velocity * factor), 1), C.MIDI_VELOCITY_MAX))) for n in self.notes
        )

    # --- JSON ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "notes": [n.to_dict() for n in self.notes],
            "tempo_bpm": self.tempo_bpm,
            "time_signature": list(self.time_signature),
            "key": self.key.name if self.key else None,
            "metadata": dict(self.metadata),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Score":
        if not isinstance(data, Mapping):
            raise BadScore("score JSON must be an object")
        try:
            notes = tuple(
                Note(
                    pitch=n["pitch"],
                    start=n["start"],
                    end=n["end"],
                    velocity=n.get("velocity", C.DEFAULT_VELOCITY),
                    program=n.get("program", C.DEFAULT_PROGRAM),
                    is_drum=bool(n.get("is_drum", False)),
                )
                for n in data.get("notes", [])
            )
            return cls(
                notes=notes,
                tempo_bpm=data.get("tempo_bpm", C.DEFAULT_TEMPO_BPM),
                time_signature=tuple(data.get("time_signature", C.DEFAULT_TIME_SIGNATURE)),
                key=_stored_key(data.get("key")),
                metadata=data.get("metadata", {}),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise BadScore(f"score JSON is missing or has a wrong field: {exc}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> "Score":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadScore(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    # --- summaries -----------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Note count, pitch range, duration and tempo, for display."""
        rng = self.pitch_range
        return {
            "notes": len(self.notes),
            "pitch_range": f"{pitch_name(rng[0])}–{pitch_name(rng[1])}" if rng else "—",
            "duration_s": round(self.duration, 2),
            "tempo_bpm": round(self.tempo_bpm, 1),
        }
