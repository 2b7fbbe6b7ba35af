"""Primers: the opening of a real piece, chosen by the seed."""

import pytest

from neurotunes.errors import BadConfig
from neurotunes.primers import OPENING_BEATS, opening, random_opening
from tests.conftest import make_score


def test_an_opening_is_the_first_bars_and_the_seed_picks_the_piece():
    pieces = [make_score([60 + i] * 40, name=f"piece {i}") for i in range(5)]
    first = random_opening(3, pieces)
    assert random_opening(3, pieces) == first  # the same seed, the same piece
    assert len({random_opening(s, pieces).notes[0].pitch for s in range(20)}) > 1
    assert all(n.start < OPENING_BEATS * first.seconds_per_beat for n in first.notes)
    assert 0 < len(first) < 40
    assert opening(pieces[0], beats=1000) == pieces[0]
    with pytest.raises(BadConfig, match="no pieces"):
        random_opening(0, [])
