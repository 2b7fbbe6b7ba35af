"""The event encoding (the default): real rhythm on a grid.

Notes sit on a grid of ``steps_per_quarter`` steps per quarter note, and a piece becomes

``BOS  NOTE_67 DUR_4  NOTE_60 DUR_8  SHIFT_4  NOTE_65 DUR_2 ...``

* ``NOTE_p DUR_d`` — a note of MIDI pitch ``p`` lasting ``d`` grid steps, starting
  at the current time.  Several pairs in a row form a chord.
* ``SHIFT_k`` — move the current time ``k`` steps later (rests fall out of this).
* ``BOS`` — start of a piece (also used as the "silence" primer).

The vocabulary is fixed by the encoding config (not by the data), so a model can
be fed any piece in range; pitches outside it are folded by octaves.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from .. import constants as C
from ..score import Note, Score
from .base import BOS, Encoding, Grammar, Vocabulary, register

NOTE, DUR, SHIFT = "NOTE", "DUR", "SHIFT"


def _parse(token: str) -> tuple[str, int | None]:
    """``"NOTE_60"`` -> ``("NOTE", 60)``; BOS or anything else -> ``(kind, None)``."""
    kind, _, value = token.partition("_")
    if kind in (NOTE, DUR, SHIFT):
        try:
            return kind, int(value)
        except ValueError:
            return token, None
    return kind, None


class EventEncoding(Encoding):
    """NOTE/DUR pairs and SHIFTs on a grid (see the module docstring)."""

    name = "event"
    description = "Event: pitch, duration and time-shift tokens (real rhythm)"
    fixed_vocabulary = True

    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        """Fixed by the config: BOS, every SHIFT, every NOTE in range, every DUR (``scores`` are not needed)."""
        enc = self.config
        tokens = [BOS]
        tokens += [f"{SHIFT}_{k}" for k in range(1, enc.max_shift + 1)]
        tokens += [f"{NOTE}_{p}" for p in range(enc.pitch_low, enc.pitch_high + 1)]
        tokens += [f"{DUR}_{d}" for d in range(1, enc.max_duration + 1)]
        return Vocabulary(tokens)

    def encode(self, score: Score, *, bos: bool = True) -> list[str]:
        enc = self.config
        events = self.grid_notes(score, enc.max_duration)
        tokens = [BOS] if bos else []
        now = 0
        # Highest pitch first inside a chord: the melody line leads, as a listener hears it.
        for (onset, pitch), dur in sorted(events.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
            gap = onset - now
            while gap > 0:
                k = min(gap, enc.max_shift)
                tokens.append(f"{SHIFT}_{k}")
                gap -= k
            now = onset
            tokens += [f"{NOTE}_{pitch}", f"{DUR}_{dur}"]
        return tokens

    def decode(
        self,
        tokens: Iterable[str],
        *,
        tempo_bpm: float = C.DEFAULT_TEMPO_BPM,
        program: int = C.DEFAULT_PROGRAM,
        velocity: int = C.DEFAULT_VELOCITY,
        metadata: Mapping[str, Any] | None = None,
    ) -> Score:
        """Decoding is forgiving: a NOTE with no DUR after it lasts one step, a stray DUR is ignored."""
        step = 60.0 / tempo_bpm / self.config.steps_per_quarter
        now = 0
        pending: int | None = None
        notes: list[Note] = []

        def flush(dur_steps: int) -> None:
            nonlocal pending
            if pending is not None:
                notes.append(Note(pitch=pending, start=now * step, end=(now + dur_steps) * step,
                                  velocity=velocity, program=program))
                pending = None

        for tok in tokens:
            kind, value = _parse(tok)
            if kind == NOTE:
                flush(1)
                pending = value
            elif kind == DUR:
                flush(value)
            elif kind == SHIFT:
                flush(1)
                now += value
            else:  # BOS or anything unknown: a piece boundary
                flush(1)
        flush(1)
        return Score(notes=tuple(notes), tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))

    def token_pitches(self, token: str) -> tuple[int, ...]:
        kind, value = _parse(token)
        return (value,) if kind == NOTE else ()

    def token_time_steps(self, token: str) -> int:
        kind, value = _parse(token)
        return value if kind == SHIFT else 0

    def completes_note(self, token: str) -> bool:
        return _parse(token)[0] == DUR

    def transpose_token(self, token: str, semitones: int) -> str:
        kind, value = _parse(token)
        return f"{NOTE}_{value + semitones}" if kind == NOTE else token

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> "EventGrammar":
        return EventGrammar(vocab, max_chord)


class EventGrammar(Grammar):
    """NOTE is followed by its DUR; no pitch twice in one chord; at most ``max_chord`` notes per onset
    (0: no cap); after a primer, time moves on (a SHIFT) before the first new note, so the primer's
    last chord stays the primer's."""

    def __init__(self, vocab: Vocabulary, max_chord: int = 0):
        kind = np.array([_parse(t)[0] for t in vocab.tokens])
        self.kind = kind
        self.after_note = kind == DUR
        self.otherwise = (kind == NOTE) | (kind == SHIFT)
        self.shifts = kind == SHIFT
        self.max_chord = max_chord
        super().__init__(len(vocab))

    def start(self) -> None:
        self.chord: set[int] = set()
        self.last = BOS
        self.shift_only = False

    def after_primer(self) -> None:
        self.shift_only = True

    def copy(self) -> "EventGrammar":
        other = super().copy()
        other.chord = set(self.chord)
        return other

    def observe(self, token: int) -> None:
        kind = self.kind[token]
        if kind == SHIFT:
            self.shift_only = False
        if kind == NOTE:
            self.chord.add(token)
        elif kind == SHIFT or kind == BOS:
            self.chord.clear()
        self.last = kind

    def mask(self) -> np.ndarray:
        if self.last == NOTE:
            return self.after_note
        if self.shift_only or (self.max_chord and len(self.chord) >= self.max_chord):
            return self.shifts
        allowed = self.otherwise.copy()
        if self.chord:
            allowed[list(self.chord)] = False
        return allowed


register(EventEncoding)
