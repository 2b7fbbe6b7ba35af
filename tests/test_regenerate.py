"""Regenerate bars: only the chosen bars change, candidates come best join first, and the join measure
prefers music that leads into what follows."""

import numpy as np
import pytest

from neurotunes.config import GenerateConfig
from neurotunes.errors import BadConfig
from neurotunes.regenerate import bar_count, join_score, regenerate
from neurotunes.score import Note


@pytest.fixture(scope="module")
def shipped():
    from neurotunes.bundle import load_bundle

    return load_bundle("lstm")


@pytest.fixture(scope="module")
def chorale(shipped):
    from neurotunes.evaluate import reference_split

    _, held_out = reference_split("bach")
    piece = held_out[0]
    return piece.with_notes(n for n in piece.notes if n.end <= 8 * 4 * piece.seconds_per_beat)  # its first 8 bars


def _key(n):
    return (n.pitch, round(n.start, 6), round(n.end, 6))


def test_only_the_chosen_bars_change_and_candidates_come_best_join_first(shipped, chorale):
    spb = chorale.seconds_per_beat
    start, end = 2 * 4 * spb, 4 * 4 * spb  # bars 3 and 4
    made = regenerate(shipped, chorale, 3, 4, count=3, config=GenerateConfig(seed=5))
    assert sorted(c.seed for c in made) == [5, 6, 7]
    joins = [c.join for c in made]
    assert all(np.isfinite(joins)) and joins == sorted(joins, reverse=True)
    kept_before = sorted(_key(n) for n in chorale.notes if n.end <= start + 1e-6)
    kept_after = sorted(_key(n) for n in chorale.notes if n.start >= end - 1e-6)
    for c in made:
        notes = c.score.notes
        assert sorted(_key(n) for n in notes if n.end <= start + 1e-6 and n.start < start) == kept_before
        assert sorted(_key(n) for n in notes if n.start >= end - 1e-6) == kept_after
        new = [n for n in notes if start - 1e-6 <= n.start < end - 1e-6]
        assert len(new) == c.new_notes > 4 and all(n.end <= end + 1e-6 for n in new)
        assert c.score.tempo_bpm == chorale.tempo_bpm
    assert len({tuple(_key(n) for n in c.score.notes) for c in made}) == 3  # three different rewrites
    again = regenerate(shipped, chorale, 3, 4, count=3, config=GenerateConfig(seed=5))
    assert [c.score for c in again] == [c.score for c in made]


def test_the_join_prefers_bachs_own_bars_to_random_notes(shipped):
    """Two bars as Bach wrote them lead into the next bar better than random notes in their place: over 20 spans
    of 10 held-out chorales, most of the time and by a clear margin on average (per span the measure is noisy:
    one bar of notes is a small sample)."""
    from neurotunes.evaluate import reference_split

    _, held_out = reference_split("bach")
    wins, margins = 0, []
    for piece in held_out[:10]:
        spb = piece.seconds_per_beat
        for first in (2, 4):
            start, end = first * 4 * spb, (first + 2) * 4 * spb
            inside = [n for n in piece.notes if start <= n.start < end]
            outside = [n for n in piece.notes if not start <= n.start < end]
            rng = np.random.default_rng(first)
            noise = [Note(start=n.start, end=n.end, pitch=int(rng.integers(40, 80))) for n in inside]
            margin = join_score(shipped, piece, end) - join_score(shipped, piece.with_notes(outside + noise), end)
            wins += margin > 0
            margins.append(margin)
    assert wins >= 13 and np.mean(margins) > 0.1, (wins, np.mean(margins))


def test_the_first_and_last_bars_and_what_cannot_be_done(shipped, chorale):
    first = regenerate(shipped, chorale, 1, 1, count=1)
    assert first[0].join is not None and first[0].new_notes > 0
    bars = bar_count(chorale)
    last = regenerate(shipped, chorale, bars, bars, count=2)
    assert [c.join for c in last] == [None, None] and [c.seed for c in last] == [0, 1]  # nothing follows: seed order
    for bad in ((0, 1), (3, 2), (1, bars + 1)):
        with pytest.raises(BadConfig, match="choose bars from 1"):
            regenerate(shipped, chorale, *bad)
    with pytest.raises(BadConfig, match="candidates"):
        regenerate(shipped, chorale, 1, 2, count=0)
    with pytest.raises(BadConfig, match="no notes"):
        regenerate(shipped, chorale.with_notes(()), 1, 1)
