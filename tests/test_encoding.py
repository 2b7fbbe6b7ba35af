import pytest

from neurotunes.encoding import EncodingConfig, Vocabulary, count_notes, quantize, score_to_tokens, tokens_to_score
from neurotunes.errors import BadConfig
from neurotunes.score import Note, Score


def _grid_score():
    """Chords, rests and varied durations, all on the 1/16 grid at 120 BPM (0.125 s per step)."""
    q = 0.125
    notes = [
        Note(start=0, end=4 * q, pitch=72), Note(start=0, end=8 * q, pitch=64), Note(start=0, end=8 * q, pitch=48),
        Note(start=4 * q, end=6 * q, pitch=74),
        Note(start=12 * q, end=13 * q, pitch=76),  # after a rest
        Note(start=40 * q, end=72 * q, pitch=60),  # long gap (several shift tokens) and a two-bar note
    ]
    return Score(notes=tuple(notes), tempo_bpm=120.0)


def test_tokens_look_right():
    toks = score_to_tokens(_grid_score())
    assert toks[:7] == ["BOS", "NOTE_72", "DUR_4", "NOTE_64", "DUR_8", "NOTE_48", "DUR_8"]
    assert toks[7] == "SHIFT_4"
    assert count_notes(toks) == 6


def test_round_trip_keeps_pitches_onsets_durations_on_grid():
    s = _grid_score()
    back = tokens_to_score(score_to_tokens(s), tempo_bpm=120.0)
    assert [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in back.notes] == [
        (n.pitch, round(n.start, 6), round(n.end, 6)) for n in s.notes
    ]


def test_off_grid_notes_snap_and_out_of_range_pitches_fold():
    s = Score(notes=(Note(start=0.13, end=0.30, pitch=20), Note(start=0.5, end=0.51, pitch=115)), tempo_bpm=120.0)
    q = quantize(s)
    assert [n.pitch for n in q.notes] == [32, 103]  # folded by octaves into 21..108
    assert q.notes[0].start == pytest.approx(0.125)
    assert q.notes[1].end - q.notes[1].start == pytest.approx(0.125)  # at least one step


def test_decoding_is_forgiving():
    s = tokens_to_score(["DUR_3", "NOTE_60", "SHIFT_2", "NOTE_62", "DUR_2", "NOTE_64"])
    assert [n.pitch for n in s.notes] == [60, 62, 64]
    assert all(n.end > n.start for n in s.notes)


def test_vocabulary_is_fixed_by_config_and_round_trips():
    enc = EncodingConfig()
    vocab = Vocabulary.for_encoding(enc)
    assert len(vocab) == 1 + enc.max_shift + (enc.pitch_high - enc.pitch_low + 1) + enc.max_duration
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    with pytest.raises(BadConfig, match="not in the model's vocabulary"):
        vocab.encode(["NOTE_3"])
    with pytest.raises(BadConfig):
        Vocabulary.from_json('{"tokens": [1, 2]}')
    with pytest.raises(BadConfig):
        EncodingConfig(steps_per_quarter=0)
    with pytest.raises(BadConfig, match="unknown"):
        EncodingConfig.from_dict({"name": "event", "bogus": 1})


def test_classic_encoding_is_classical_piano_composer():
    """Note names with octave, chords as normal-order pitch classes, no rhythm; decoded every half beat."""
    from neurotunes.encoding import normal_order

    classic = EncodingConfig(name="classic")
    s = _grid_score()
    toks = score_to_tokens(s, classic)
    assert toks[0] == "BOS"
    assert toks[1:] == ["0.4", "D5", "E5", "C4"]  # C5+E4+C3 chord, then single notes; rests and durations lost
    assert normal_order([67, 71, 74, 77]) == (11, 2, 5, 7)  # G7 -> B D F G, as music21's normalOrder
    back = tokens_to_score(toks, classic, tempo_bpm=120.0)
    assert [n.start for n in back.notes] == [0.0, 0.0, 0.25, 0.5, 0.75]  # fixed half-beat offsets
    assert {n.end - n.start for n in back.notes} == {0.5}
    assert [n.pitch for n in back.notes] == [60, 64, 74, 76, 60]
    assert count_notes(toks, classic) == 5
    vocab = Vocabulary.for_encoding(classic, [s])
    assert vocab.tokens == ("BOS", "0.4", "C4", "D5", "E5")
