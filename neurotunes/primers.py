"""Primers: the music a take starts from, when it does not start from silence.

A primer sets the key, texture and pace the model continues.  The Generate page
and the CLI take one from a MIDI file or a transcription as they are; this module
makes the one that needs choosing: the opening of a real piece.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .corpus import load_corpus
from .errors import BadConfig
from .midi_io import midi_to_score
from .score import Score

#: The opening few bars are enough to set key, texture and pace (4/4: two bars).
OPENING_BEATS = 8
#: Where openings come from when no dataset is given: the corpus the default model learned from.
OPENING_CORPUS = "bach"
#: Pieces of that corpus to choose among (parsing is cached on disk, but 20 keeps the first use quick).
OPENING_CORPUS_PIECES = 20


def opening(piece: Score, beats: float = OPENING_BEATS) -> Score:
    """The notes of ``piece`` that start in its first ``beats`` beats."""
    return piece.with_notes(n for n in piece.notes if n.start < beats * piece.seconds_per_beat)


def random_opening(seed: int, pieces: Sequence[Score] | None = None, *, beats: float = OPENING_BEATS) -> Score:
    """The opening of a piece chosen with ``seed`` (the same seed, the same piece) from ``pieces``.

    Without ``pieces``, the first :data:`OPENING_CORPUS_PIECES` pieces of the :data:`OPENING_CORPUS` corpus.

    Raises
    ------
    BadConfig
        ``pieces`` is empty.
    """
    if pieces is None:
        pieces = load_corpus(OPENING_CORPUS, limit=OPENING_CORPUS_PIECES)
    if not pieces:
        raise BadConfig("there are no pieces to take an opening from")
    piece = pieces[int(np.random.default_rng(int(seed)).integers(len(pieces)))]
    return opening(piece, beats)


#: Where a primer can come from, as the Generate page offers them.
SOURCES = ("Silence", "A MIDI file", "A transcription", "A random dataset piece")


def choose(source: str, *, seed: int, midi: tuple[str, bytes] | None = None, transcription: Score | None = None,
           dataset: Sequence[Score] | None = None) -> Score | None:
    """The primer for one of :data:`SOURCES`: None for silence; a message when the chosen source is empty.

    ``midi`` is an uploaded file's ``(name, bytes)``; ``dataset`` the pieces of a built dataset (else the
    first Bach chorales), of which ``seed`` picks one and its opening bars are the primer.
    """
    if source == "A MIDI file":
        if midi is None:
            raise BadConfig("choose a MIDI file for the primer, or start from silence")
        return midi_to_score(midi[1], name=midi[0])
    if source == "A transcription":
        if transcription is None:
            raise BadConfig("transcribe something first (Transcribe page), or start from silence")
        return transcription
    if source == "A random dataset piece":
        return random_opening(seed, dataset)
    return None

