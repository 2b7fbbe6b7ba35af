"""Dataset clean-up of transcriptions (pure Score transforms) and transcription presets."""

import pytest

from neurotunes.config import PostProcessConfig
from neurotunes.errors import BadConfig, BadScore
from neurotunes.score import Note, Score
from neurotunes.transcribe import PRESETS, postprocess


def _score(*notes, tempo=120.0):
    return Score(notes=tuple(Note(start=s, end=e, pitch=p, velocity=v) for s, e, p, v in notes), tempo_bpm=tempo)


def test_quantize_snaps_to_sixteenths_and_eighths():
    s = _score((0.02, 0.27, 60, 80), (0.51, 0.55, 62, 80))  # 120 BPM: 1/16 = 0.125 s
    q16 = s.quantized(4)
    assert [(n.start, n.end) for n in q16.notes] == [(0.0, 0.25), (0.5, 0.625)]  # short note keeps one step
    q8 = s.quantized(2)
    assert [(n.start, n.end) for n in q8.notes] == [(0.0, 0.25), (0.5, 0.75)]
    assert s.quantized(4, tempo_bpm=60).notes[0].end == pytest.approx(0.25)
    with pytest.raises(BadScore):
        s.quantized(0)


def test_quantize_merges_same_pitch_on_same_step():
    s = _score((0.0, 0.2, 60, 80), (0.03, 0.5, 60, 90))
    q = s.quantized(4)
    assert len(q) == 1 and q.notes[0].end == pytest.approx(0.5)


def test_top_line_keeps_the_melody():
    chord_then_melody = _score((0, 1, 60, 80), (0, 1, 64, 80), (0, 1, 67, 80), (0.5, 1.5, 72, 80), (1.5, 2, 48, 80))
    line = chord_then_melody.top_line()
    assert [(n.pitch, n.start, n.end) for n in line.notes] == [(67, 0, 0.5), (72, 0.5, 1.5), (48, 1.5, 2)]


def test_short_notes_and_velocity():
    s = _score((0, 0.03, 60, 40), (0.1, 0.5, 62, 50), (0.5, 1.0, 64, 25))
    assert [n.pitch for n in s.without_short_notes(0.05).notes] == [62, 64]
    v = s.with_normalized_velocity(100)
    assert [n.velocity for n in v.notes] == [80, 100, 50]
    assert Score().with_normalized_velocity() == Score()


def test_postprocess_pipeline_uses_estimated_tempo_for_the_grid():
    s = _score((0.02, 0.4, 60, 60), (0.41, 0.45, 62, 30), tempo=120.0)
    out = postprocess(s, PostProcessConfig(quantize="1/8", normalize_velocity=True), estimated_tempo=60.0)
    assert [n.start for n in out.notes] == [0.0, 0.5]  # 60 BPM: 1/8 = 0.5 s
    assert max(n.velocity for n in out.notes) == 100
    assert postprocess(s, PostProcessConfig()) == s
    with pytest.raises(BadConfig, match="quantize"):
        PostProcessConfig(quantize="1/12")


def test_presets_are_valid_and_distinct():
    assert "Basic Pitch defaults" in PRESETS
    configs = {repr(v) for v in PRESETS.values()}
    assert len(configs) == len(PRESETS)
    melody = PRESETS["Single-line melody / voice"]
    assert melody[1].monophonic
