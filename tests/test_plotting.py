"""Piano-roll figures built from real Scores with real plotly."""

from __future__ import annotations

import time

import numpy as np
import pytest

from neurotunes.errors import BadConfig
from neurotunes.plotting import piano_roll
from neurotunes.score import Note, Score, pitch_name

PITCHES = (60, 62, 64, 65, 67, 69, 71, 72)


def melody(n_notes: int = len(PITCHES)) -> Score:
    notes = tuple(
        Note(start=i * 0.5, end=i * 0.5 + 0.4, pitch=PITCHES[i % len(PITCHES)], velocity=20 + 10 * (i % 8))
        for i in range(n_notes)
    )
    return Score(notes=notes, tempo_bpm=120.0)


def test_single_trace_without_primer():
    score = melody()
    fig = piano_roll(score, title="scale")
    assert [t.name for t in fig.data] == ["notes"]
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert len(bar.x) == len(bar.base) == len(bar.y) == len(score)
    assert list(bar.y) == [n.pitch for n in score.notes]
    np.testing.assert_allclose(np.asarray(bar.base, dtype=float), [n.start for n in score.notes])
    np.testing.assert_allclose(bar.x, [n.duration for n in score.notes])
    assert list(bar.marker.color) == [n.velocity for n in score.notes]
    assert bar.marker.showscale
    assert fig.layout.title.text == "scale"
    assert fig.layout.xaxis.title.text == "time (s)"
    assert fig.layout.height <= 400
    assert len(fig.layout.shapes) == 0


def test_primer_and_generated_traces():
    score = melody()
    fig = piano_roll(score, primer_notes=3)
    assert [t.name for t in fig.data] == ["primer", "generated"]
    primer, generated = fig.data
    assert len(primer.x) == 3 and len(generated.x) == len(score) - 3
    assert list(primer.y) == [n.pitch for n in score.notes[:3]]
    assert primer.marker.colorscale != generated.marker.colorscale
    assert fig.layout.barmode == "overlay"  # traces are not shifted side by side
    # a primer covering everything leaves one trace
    assert [t.name for t in piano_roll(score, primer_notes=100).data] == ["primer"]


def test_hover_shows_note_names_and_axis_uses_c_ticks():
    score = melody()
    fig = piano_roll(score)
    bar = fig.data[0]
    names = [row[0] for row in bar.customdata]
    assert names == [pitch_name(n.pitch) for n in score.notes]
    assert "C4" in names and "customdata[0]" in bar.hovertemplate
    assert "velocity" in bar.hovertemplate
    assert list(fig.layout.yaxis.tickvals) == [60, 72]
    assert list(fig.layout.yaxis.ticktext) == ["C4", "C5"]
    assert list(fig.layout.yaxis.range) == [58, 74]


def test_beats_axis():
    score = melody()  # 120 BPM: 0.5 s per beat
    fig = piano_roll(score, time_unit="beats")
    assert fig.layout.xaxis.title.text == "beats"
    np.testing.assert_allclose(np.asarray(fig.data[0].base, dtype=float), [n.start * 2 for n in score.notes])
    np.testing.assert_allclose(fig.data[0].x, [n.duration * 2 for n in score.notes])
    with pytest.raises(BadConfig):
        piano_roll(score, time_unit="bars")
    with pytest.raises(BadConfig):
        piano_roll(score, primer_notes=-1)


def test_five_thousand_notes_build_fast():
    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 600, 5000)
    notes = tuple(
        Note(start=float(s), end=float(s) + 0.25, pitch=int(p), velocity=int(v))
        for s, p, v in zip(starts, rng.integers(21, 109, 5000), rng.integers(1, 128, 5000))
    )
    score = Score(notes=notes)
    piano_roll(melody())  # import plotly outside the timed region
    began = time.perf_counter()
    fig = piano_roll(score, primer_notes=500)
    elapsed = time.perf_counter() - began
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert len(fig.data) == 2
    assert sum(len(t.x) for t in fig.data) == 5000
    assert len(fig.layout.shapes) == 0


def test_empty_score_gives_annotation():
    fig = piano_roll(Score())
    assert len(fig.data) == 0
    assert [a.text for a in fig.layout.annotations] == ["no notes"]
