"""Regenerate a span of a piece: new bars that follow from what comes before and lead into what comes after.

A model that writes left to right cannot look ahead, so the span is written the
way a composer tries a passage: several candidates, each continuing the music
before the span (as a primer) until the span's end, then each judged by how well
it leads into the music after it -- the model's mean log-probability of the
first bar after the span, given everything before (the *join*).  Candidates come
best join first; the user listens and keeps one.

The music before the span is kept as it is (a note that sounds into the span is
cut where the span begins); the music after it is kept as it is; only the notes
that start inside the span are new.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from . import constants as C
from .bundle import ModelBundle
from .config import GenerateConfig
from .encodings import encoding_for
from .errors import BadConfig
from .generate import generate
from .keys import piece_key
from .models import make_stepper
from .score import Note, Score

#: How far past the span the join listens: one bar of the piece.
JOIN_BARS = 1


@dataclass(frozen=True)
class Candidate:
    """The whole piece with the span rewritten; ``join``: mean log-probability per pitch choice in the bar after
    the span (higher leads in better; None when nothing follows the span); ``seed``: the seed that wrote it."""

    score: Score
    join: float | None
    seed: int
    new_notes: int


def beats_per_bar(score: Score) -> float:
    top, bottom = score.time_signature
    return top * 4 / bottom


def bar_count(score: Score) -> int:
    """Bars the piece fills (at least 1)."""
    return max(1, math.ceil(score.duration / score.seconds_per_beat / beats_per_bar(score) - 1e-9))


def regenerate(bundle: ModelBundle, score: Score, first_bar: int, last_bar: int, *, count: int = 4,
               config: GenerateConfig | None = None) -> list[Candidate]:
    """``count`` rewrites of bars ``first_bar``..``last_bar`` (counting from 1, both included), best join first.

    ``config``'s sampling settings apply (temperature, top-k/p, constraints; its tempo and length do not: the
    piece's tempo is kept and the span's length is the span).  Candidate ``i`` uses seed ``config.seed + i``.

    Raises
    ------
    BadConfig
        Bars outside the piece or in the wrong order, a count outside 1..MAX_VARIATIONS, or a piece
        without notes.
    """
    config = config or bundle.generate_config()
    bars = bar_count(score)
    if not len(score.notes):
        raise BadConfig("the piece has no notes to rewrite")
    if not (1 <= first_bar <= last_bar <= bars):
        raise BadConfig(f"choose bars from 1 to {bars}, the first no later than the last "
                        f"(not {first_bar} to {last_bar})")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= C.MAX_VARIATIONS:
        raise BadConfig(f"ask for 1 to {C.MAX_VARIATIONS} candidates, not {count!r}")
    spb, per_bar = score.seconds_per_beat, beats_per_bar(score)
    start, end = (first_bar - 1) * per_bar * spb, last_bar * per_bar * spb
    eps = 1e-6
    before = [replace(n, end=min(n.end, start)) for n in score.notes if n.start < start - eps]
    after = [n for n in score.notes if n.start >= end - eps]
    primer = score.with_notes(before) if before else None
    settings = replace(config, tempo_bpm=score.tempo_bpm, seconds=0.0, length=C.MAX_GENERATE_NOTES)
    span_seconds = end - start
    candidates = []
    for i in range(count):
        seed = config.seed + i
        made = generate(bundle, replace(settings, seed=seed,
                                        seconds=min(span_seconds + (start - _clock(before)), C.MAX_GENERATE_SECONDS)),
                        primer=primer)
        generated = made.notes[int(made.metadata.get("primer_notes", 0)):]
        new = [replace(n, end=min(n.end, end), program=_program(score))
               for n in generated if start - eps <= n.start < end - eps]
        piece = score.with_notes([*before, *new, *after])
        candidates.append(Candidate(piece, join_score(bundle, piece, end) if after else None, seed, len(new)))
    return sorted(candidates, key=lambda c: math.inf if c.join is None else -c.join)  # stable: seed order on ties


def _clock(before: list[Note]) -> float:
    """Where a model's clock stands after a primer: its last onset (0 without one)."""
    return max((n.start for n in before), default=0.0)


def _program(score: Score) -> int:
    programs = [n.program for n in score.notes if not n.is_drum]
    return max(set(programs), key=programs.count) if programs else C.DEFAULT_PROGRAM


def join_score(bundle: ModelBundle, piece: Score, at: float) -> float | None:
    """The model's mean log-probability per note of the :data:`JOIN_BARS` bars from ``at`` (seconds) on, given
    everything before: of the tokens that choose pitches (rhythm tokens follow the metre more than the music
    before them); None when no note falls there."""
    encoding, vocab = encoding_for(bundle.encoding), bundle.vocab
    if bundle.key_normalized:
        key = piece_key(piece)
        if key is not None and key.shift_to_reference():
            piece = piece.transpose(key.shift_to_reference())  # into the key the model learned in
    tokens = vocab.encode(encoding.encode(piece), skip_unknown=True)
    facts = encoding.facts(vocab)
    step = piece.seconds_per_beat / facts.steps_per_quarter
    until = at + JOIN_BARS * beats_per_bar(piece) * piece.seconds_per_beat
    stepper = make_stepper(bundle)
    now, total, counted = 0.0, 0.0, 0
    logits = stepper.step(int(tokens[0]))
    for token in tokens[1:]:
        token = int(token)
        if at - 1e-6 <= now < until - 1e-6 and facts.carries_pitch[token]:
            z = np.asarray(logits, dtype=np.float64)
            top = z.max()
            total += float(z[token] - top - np.log(np.exp(z - top).sum()))
            counted += 1
        now += facts.time_steps[token] * step
        if now >= until - 1e-6:
            break
        logits = stepper.step(token)
    return total / counted if counted else None
