"""Score <-> token sequences, in two encodings recorded in every model's config.

``"classic"`` is what Classical-Piano-Composer does, kept for comparison: one
token per onset — a note name with its octave (``"C4"``) or a chord as the
normal-order pitch classes (``"0.4.7"``) — with no durations or rests; decoded
notes are placed every half beat.  Its vocabulary comes from the data.

``"event"`` (the default) keeps real rhythm: notes sit on a grid of
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
from .score import Note, Score, pitch_from_name, pitch_name

BOS = "BOS"
ENCODINGS = ("event", "classic")
#: Classic encoding: every token advances half a beat and sounds for one beat (as in Classical-Piano-Composer).
CLASSIC_STEP_QUARTERS = 0.5
CLASSIC_NOTE_QUARTERS = 1.0
CLASSIC_CHORD_OCTAVE_BASE = 60  # chord pitch classes are decoded in octave 4


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
        if self.name not in ENCODINGS:
            raise BadConfig(f"unknown encoding {self.name!r}; available: {', '.join(ENCODINGS)}")
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
    def for_encoding(cls, enc: EncodingConfig, scores: Iterable[Score] = ()) -> "Vocabulary":
        """The event encoding's fixed vocabulary, or the classic one built from ``scores``."""
        if enc.name == "classic":
            seen = {t for s in scores for t in score_to_tokens(s, enc, bos=False)}
            return cls([BOS, *sorted(seen)])
        tokens = [BOS]
        tokens += [f"SHIFT_{k}" for k in range(1, enc.max_shift + 1)]
        tokens += [f"NOTE_{p}" for p in range(enc.pitch_low, enc.pitch_high + 1)]
        tokens += [f"DUR_{d}" for d in range(1, enc.max_duration + 1)]
        return cls(tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.tokens == self.tokens

    def encode(self, tokens: Iterable[str], *, skip_unknown: bool = False) -> np.ndarray:
        """Token strings to ids; unknown tokens raise, or are dropped with ``skip_unknown``."""
        if skip_unknown:
            return np.array([self.index[t] for t in tokens if t in self.index], dtype=np.int32)
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
    """Encode a Score's pitched notes as tokens (event tokens on the grid, or classic note/chord names)."""
    enc = enc or EncodingConfig()
    if enc.name == "classic":
        return ([BOS] if bos else []) + _classic_tokens(score)
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
    if enc.name == "classic":
        return _classic_score(tokens, tempo_bpm=tempo_bpm, program=program, velocity=velocity, metadata=metadata)
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


def count_notes(tokens: Iterable[str], enc: EncodingConfig | None = None) -> int:
    """Notes a token sequence stands for (a classic chord token counts each of its notes)."""
    if enc is not None and enc.name == "classic":
        return sum(len(t.split(".")) for t in tokens if t != BOS)
    return sum(1 for t in tokens if t.startswith("NOTE_"))


def transpose_token(token: str, enc: EncodingConfig, semitones: int) -> str:
    """The token for the same event ``semitones`` higher (rhythm tokens and BOS are unchanged)."""
    if enc.name == "classic":
        if token == BOS:
            return token
        if token[:1].isdigit():
            return ".".join(str(pc) for pc in normal_order(int(pc) + semitones for pc in token.split(".")))
        return pitch_name(pitch_from_name(token) + semitones)
    return f"NOTE_{int(token[5:]) + semitones}" if token.startswith("NOTE_") else token


def completes_note(token: str, enc: EncodingConfig) -> bool:
    """True when ``token`` finishes a note (event: its DUR; classic: any note or chord token)."""
    return token != BOS if enc.name == "classic" else token.startswith("DUR_")


# --- the classic encoding -------------------------------------------------
def normal_order(pitch_classes: Iterable[int]) -> tuple[int, ...]:
    """The most compact rotation of a pitch-class set (Forte's normal order, as music21's ``normalOrder``)."""
    pcs = sorted({p % 12 for p in pitch_classes})
    if len(pcs) <= 1:
        return tuple(pcs)
    rotations = [pcs[i:] + pcs[:i] for i in range(len(pcs))]

    def spans(rot: list[int]) -> tuple[int, ...]:
        # outer span first, then the spans to each earlier note: "packed to the left"
        return tuple((rot[k] - rot[0]) % 12 for k in range(len(rot) - 1, 0, -1))

    return tuple(min(rotations, key=lambda r: (spans(r), r[0])))


def _classic_tokens(score: Score) -> list[str]:
    onsets: dict[float, set[int]] = {}
    for n in score.notes:
        if not n.is_drum:
            onsets.setdefault(round(n.start, 4), set()).add(n.pitch)
    tokens = []
    for _, pitches in sorted(onsets.items()):
        if len(pitches) == 1:
            tokens.append(pitch_name(next(iter(pitches))))
        else:
            tokens.append(".".join(str(pc) for pc in normal_order(pitches)))
    return tokens


def _classic_pitches(token: str) -> list[int]:
    if token[:1].isdigit():
        return [CLASSIC_CHORD_OCTAVE_BASE + int(pc) for pc in token.split(".")]
    return [pitch_from_name(token)]


def _classic_score(tokens, *, tempo_bpm, program, velocity, metadata) -> Score:
    beat = 60.0 / tempo_bpm
    notes: list[Note] = []
    position = 0
    for tok in tokens:
        if tok == BOS:
            continue
        try:
            pitches = _classic_pitches(tok)
        except ValueError:
            continue  # a token this decoder does not know is skipped, as in the event decoder
        start = position * CLASSIC_STEP_QUARTERS * beat
        notes += [Note(pitch=p, start=start, end=start + CLASSIC_NOTE_QUARTERS * beat, velocity=velocity,
                       program=program) for p in pitches if 0 <= p <= 127]
        position += 1
    return Score(notes=tuple(notes), tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))


def quantize(score: Score, enc: EncodingConfig | None = None) -> Score:
    """The Score as the encoding sees it (a Score -> tokens -> Score round trip)."""
    enc = enc or EncodingConfig()
    return tokens_to_score(score_to_tokens(score, enc), enc, tempo_bpm=score.tempo_bpm).replace(
        metadata=dict(score.metadata)
    )
