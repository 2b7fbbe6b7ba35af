"""The classic encoding: what Classical-Piano-Composer does, kept for comparison.

One token per onset — a note name with its octave (``"C4"``) or a chord as the
normal-order pitch classes (``"0.4.7"``) — with no durations or rests; decoded
notes are placed every half beat and sound for one beat.  Its vocabulary comes
from the data.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .. import constants as C
from ..score import Note, Score, pitch_from_name, pitch_name
from .base import BOS, Encoding, Vocabulary, register

#: Every token advances half a beat and sounds for one beat (as in Classical-Piano-Composer).
CLASSIC_STEP_QUARTERS = 0.5
CLASSIC_NOTE_QUARTERS = 1.0
CLASSIC_CHORD_OCTAVE_BASE = 60  # chord pitch classes are decoded in octave 4


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


def _is_chord(token: str) -> bool:
    return token[:1].isdigit()


def _pitches(token: str) -> list[int]:
    """The pitches a note or chord token stands for; ValueError for a token that is neither."""
    if _is_chord(token):
        return [CLASSIC_CHORD_OCTAVE_BASE + int(pc) for pc in token.split(".")]
    return [pitch_from_name(token)]


class ClassicEncoding(Encoding):
    """Classical-Piano-Composer's note and chord names (see the module docstring)."""

    name = "classic"
    description = "Classic: note and chord names, fixed half-beat steps (Classical-Piano-Composer)"

    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        """BOS and every token that occurs in ``scores``, sorted."""
        seen = {t for s in scores for t in self.encode(s, bos=False)}
        return Vocabulary([BOS, *sorted(seen)])

    def encode(self, score: Score, *, bos: bool = True) -> list[str]:
        onsets: dict[float, set[int]] = {}
        for n in score.notes:
            if not n.is_drum:
                onsets.setdefault(round(n.start, 4), set()).add(n.pitch)
        tokens = [BOS] if bos else []
        for _, pitches in sorted(onsets.items()):
            if len(pitches) == 1:
                tokens.append(pitch_name(next(iter(pitches))))
            else:
                tokens.append(".".join(str(pc) for pc in normal_order(pitches)))
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
        beat = 60.0 / tempo_bpm
        notes: list[Note] = []
        position = 0
        for tok in tokens:
            if tok == BOS:
                continue
            try:
                pitches = _pitches(tok)
            except ValueError:
                continue  # a token this decoder does not know is skipped, as in the event decoder
            start = position * CLASSIC_STEP_QUARTERS * beat
            notes += [Note(pitch=p, start=start, end=start + CLASSIC_NOTE_QUARTERS * beat, velocity=velocity,
                           program=program) for p in pitches if 0 <= p <= 127]
            position += 1
        return Score(notes=tuple(notes), tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))

    @property
    def steps_per_quarter(self) -> int:
        return round(1 / CLASSIC_STEP_QUARTERS)  # every token is one step of half a beat

    def token_pitches(self, token: str) -> tuple[int, ...]:
        if token == BOS:
            return ()
        try:
            # low to high, as the decoded Score holds them: the repetition window keeps the latest pitches
            return tuple(sorted(p for p in _pitches(token) if 0 <= p <= 127))
        except ValueError:
            return ()

    def token_time_steps(self, token: str) -> int:
        return 0 if token == BOS else 1

    def completes_note(self, token: str) -> bool:
        return token != BOS

    def count_notes(self, tokens: Iterable[str]) -> int:
        return sum(len(t.split(".")) for t in tokens if t != BOS)

    def transpose_token(self, token: str, semitones: int) -> str:
        if token == BOS:
            return token
        if _is_chord(token):
            return ".".join(str(pc) for pc in normal_order(int(pc) + semitones for pc in token.split(".")))
        return pitch_name(pitch_from_name(token) + semitones)


register(ClassicEncoding)
