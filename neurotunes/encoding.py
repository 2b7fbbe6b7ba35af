"""Score <-> token sequences.

The event encoding keeps real rhythm: notes sit on a grid of
``steps_per_quarter`` steps per quarter note, and a piece becomes

``BOS  NOTE_67 DUR_4  NOTE_60 DUR_8  SHIFT_4  NOTE_65 DUR_2 ...``

* ``NOTE_p DUR_d`` — a note of MIDI pitch ``p`` lasting ``d`` grid steps, starting
  at the current time.  Several pairs in a row form a chord.
* ``SHIFT_k`` — move the current time ``k`` steps later (rests fall out of this).
* ``BOS`` — start of a piece (also used as the "silence" primer).

The vocabulary is fixed by the encoding config (not by the data), so a model can
be fed any piece in range; pitches outside it are folded by octaves.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import constants as C
from .errors import BadConfig
from .score import Note, Score

BOS = "BOS"


@dataclass(frozen=True)
class EncodingConfig:
    """Settings of the event encoding; stored in every model's config."""

    name: str = "event"
    steps_per_quarter: int = C.STEPS_PER_QUARTER
    max_shift: int = C.MAX_SHIFT_STEPS
    max_duration: int = C.MAX_DURATION_STEPS
    pitch_low: int = C.PITCH_LOW
    pitch_high: int = C.PITCH_HIGH

    def __post_init__(self) -> None:
        if self.name != "event":
            raise BadConfig(f"unknown encoding {self.name!r}; available: 'event'")
        if not 1 <= self.steps_per_quarter <= 24:
            raise BadConfig("steps_per_quarter must be 1-24")
        if not 1 <= self.max_shift <= 128 or not 1 <= self.max_duration <= 256:
            raise BadConfig("max_shift must be 1-128 and max_duration 1-256")
        if not 0 <= self.pitch_low < self.pitch_high <= 127 or self.pitch_high - self.pitch_low < 11:
            raise BadConfig("pitch range must span at least an octave inside 0-127")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EncodingConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise BadConfig(f"unknown encoding settings: {sorted(unknown)}")
        return cls(**dict(data))


class Vocabulary:
    """Token strings <-> integer ids, fixed by an :class:`EncodingConfig`."""

    def __init__(self, tokens: Sequence[str]):
        if len(set(tokens)) != len(tokens) or not tokens:
            raise BadConfig("vocabulary tokens must be unique and non-empty")
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def for_encoding(cls, enc: EncodingConfig) -> "Vocabulary":
        tokens = [BOS]
        tokens += [f"SHIFT_{k}" for k in range(1, enc.max_shift + 1)]
        tokens += [f"NOTE_{p}" for p in range(enc.pitch_low, enc.pitch_high + 1)]
        tokens += [f"DUR_{d}" for d in range(1, enc.max_duration + 1)]
        return cls(tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.tokens == self.tokens

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        try:
            return np.array([self.index[t] for t in tokens], dtype=np.int32)
        except KeyError as exc:
            raise BadConfig(f"token {exc.args[0]!r} is not in the model's vocabulary") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def ids_with_prefix(self, prefix: str) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.tokens) if t.startswith(prefix)], dtype=np.int32)

    def to_json(self) -> str:
        return json.dumps({"tokens": list(self.tokens)})

    @classmethod
    def from_json(cls, text: str | bytes) -> "Vocabulary":
        try:
            data = json.loads(text)
            tokens = data["tokens"]
        except (ValueError, KeyError, TypeError):
            raise BadConfig("vocabulary JSON must be an object with a 'tokens' list") from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise BadConfig("vocabulary tokens must be strings")
        return cls(tokens)


def _fold_pitch(pitch: int, low: int, high: int) -> int:
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def score_to_tokens(score: Score, enc: EncodingConfig | None = None, *, bos: bool = True) -> list[str]:
    """Encode a Score's pitched notes as event tokens on the grid."""
    enc = enc or EncodingConfig()
    step = score.seconds_per_beat / enc.steps_per_quarter
    events: dict[tuple[int, int], int] = {}
    for n in score.notes:
        if n.is_drum:
            continue
        onset = int(round(n.start / step))
        dur = int(min(max(round(n.duration / step), 1), enc.max_duration))
        pitch = _fold_pitch(n.pitch, enc.pitch_low, enc.pitch_high)
        key = (onset, pitch)
        events[key] = max(events.get(key, 0), dur)  # doubled notes: keep the longest
    tokens = [BOS] if bos else []
    now = 0
    # Highest pitch first inside a chord: the melody line leads, as a listener hears it.
    for (onset, pitch), dur in sorted(events.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        gap = onset - now
        while gap > 0:
            k = min(gap, enc.max_shift)
            tokens.append(f"SHIFT_{k}")
            gap -= k
        now = onset
        tokens += [f"NOTE_{pitch}", f"DUR_{dur}"]
    return tokens


def tokens_to_score(
    tokens: Iterable[str],
    enc: EncodingConfig | None = None,
    *,
    tempo_bpm: float = C.DEFAULT_TEMPO_BPM,
    program: int = C.DEFAULT_PROGRAM,
    velocity: int = C.DEFAULT_VELOCITY,
    metadata: Mapping[str, Any] | None = None,
) -> Score:
    """Decode event tokens into a Score.

    Decoding is forgiving: a NOTE with no DUR after it lasts one step, a stray
    DUR is ignored, so any token sequence decodes.
    """
    enc = enc or EncodingConfig()
    step = 60.0 / tempo_bpm / enc.steps_per_quarter
    now = 0
    pending: int | None = None
    notes: list[Note] = []

    def flush(dur_steps: int) -> None:
        nonlocal pending
        if pending is not None:
            notes.append(
                Note(
                    pitch=pending,
                    start=now * step,
                    end=(now + dur_steps) * step,
                    velocity=velocity,
                    program=program,
                )
            )
            pending = None

    for tok in tokens:
        kind, _, value = tok.partition("_")
        if kind == "NOTE":
            flush(1)
            pending = int(value)
        elif kind == "DUR":
            flush(int(value))
        elif kind == "SHIFT":
            flush(1)
            now += int(value)
        else:  # BOS or anything unknown: a piece boundary
            flush(1)
    flush(1)
    return Score(notes=tuple(notes), tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))


def count_notes(tokens: Iterable[str]) -> int:
    return sum(1 for t in tokens if t.startswith("NOTE_"))


def quantize(score: Score, enc: EncodingConfig | None = None) -> Score:
    """The Score as the encoding sees it (a Score -> tokens -> Score round trip)."""
    enc = enc or EncodingConfig()
    return tokens_to_score(score_to_tokens(score, enc), enc, tempo_bpm=score.tempo_bpm).replace(
        metadata=dict(score.metadata)
    )
