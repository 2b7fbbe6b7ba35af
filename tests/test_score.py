import pytest

from neurotunes.errors import BadScore
from neurotunes.score import Note, Score, pitch_name
from tests.conftest import make_score


def test_pitch_names():
    assert pitch_name(60) == "C4"
    assert pitch_name(69) == "A4"
    assert pitch_name(21) == "A0"
    assert pitch_name(61) == "C#4"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(pitch=128, start=0, end=1), "pitch"),
        (dict(pitch=60, start=1, end=1), "ends"),
        (dict(pitch=60, start=-1, end=1), "before time 0"),
        (dict(pitch=60, start=0, end=float("nan")), "finite"),
        (dict(pitch=60, start=0, end=1, velocity=0), "velocity"),
        (dict(pitch=60, start=0, end=1, program=200), "program"),
    ],
)
def test_note_validation_names_the_problem(kwargs, message):
    with pytest.raises(BadScore, match=message):
        Note(**kwargs)


def test_score_sorts_notes_and_is_frozen(scale):
    shuffled = Score(notes=tuple(reversed(scale.notes)))
    assert [n.pitch for n in shuffled.notes] == [60, 62, 64, 65, 67, 69, 71, 72]
    with pytest.raises(Exception):
        shuffled.tempo_bpm = 90  # type: ignore[misc]
    with pytest.raises(TypeError):
        shuffled.metadata["x"] = 1  # type: ignore[index]


def test_score_rejects_bad_tempo_and_time_signature():
    with pytest.raises(BadScore, match="tempo"):
        Score(tempo_bpm=0)
    with pytest.raises(BadScore, match="time signature"):
        Score(time_signature=(4, 3))
    with pytest.raises(BadScore, match="JSON"):
        Score(metadata={"x": object()})


def test_json_round_trip(scale):
    s = scale.replace(key="G major", time_signature=(3, 4)).with_metadata(source="x.mid", settings={"a": [1, 2]})
    back = Score.from_json(s.to_json())
    assert back == s
    assert back.metadata["settings"] == {"a": [1, 2]}
    with pytest.raises(BadScore):
        Score.from_json("{not json")
    with pytest.raises(BadScore, match="missing"):
        Score.from_json('{"notes": [{"pitch": 60}]}')


def test_transforms_return_new_objects(scale):
    up = scale.transpose(2)
    assert [n.pitch for n in up.notes][:2] == [62, 64]
    assert scale.notes[0].pitch == 60  # original untouched
    assert len(make_score(pitches=(126, 127)).transpose(1)) == 1  # pushed past 127: dropped
    slow = scale.with_tempo(60)
    assert slow.tempo_bpm == 60
    assert slow.notes[1].start == pytest.approx(2 * scale.notes[1].start)
    assert scale.with_program(40).notes[0].program == 40
    assert scale.shifted(1.0).notes[0].start == pytest.approx(1.0)


def test_summary_and_empty_score():
    empty = Score()
    assert empty.duration == 0.0
    assert empty.pitch_range is None
    assert empty.summary()["notes"] == 0
    s = make_score(pitches=(48, 72))
    assert s.summary()["pitch_range"] == "C3–C5"
