import hashlib
import json

import numpy as np
import pytest

from neurotunes.encodings import EncodingConfig, Vocabulary, encoding_for
from neurotunes.errors import BadConfig
from neurotunes import encodings
from neurotunes.config import GenerateConfig
from neurotunes.generate import _Steering
from neurotunes.score import Note, Score
from tests.conftest import ROOT

EVENT = encoding_for(EncodingConfig())
CLASSIC = encoding_for(EncodingConfig(name="classic"))


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
    toks = EVENT.encode(_grid_score())
    assert toks[:7] == ["BOS", "NOTE_72", "DUR_4", "NOTE_64", "DUR_8", "NOTE_48", "DUR_8"]
    assert toks[7] == "SHIFT_4"
    assert EVENT.count_notes(toks) == 6


def test_round_trip_keeps_pitches_onsets_durations_on_grid():
    s = _grid_score()
    back = EVENT.decode(EVENT.encode(s), tempo_bpm=120.0)
    assert [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in back.notes] == [
        (n.pitch, round(n.start, 6), round(n.end, 6)) for n in s.notes
    ]


def test_off_grid_notes_snap_and_out_of_range_pitches_fold():
    s = Score(notes=(Note(start=0.13, end=0.30, pitch=20), Note(start=0.5, end=0.51, pitch=115)), tempo_bpm=120.0)
    q = EVENT.quantize(s)
    assert [n.pitch for n in q.notes] == [32, 103]  # folded by octaves into 21..108
    assert q.notes[0].start == pytest.approx(0.125)
    assert q.notes[1].end - q.notes[1].start == pytest.approx(0.125)  # at least one step


def test_decoding_is_forgiving():
    s = EVENT.decode(["DUR_3", "NOTE_60", "SHIFT_2", "NOTE_62", "DUR_2", "NOTE_64"])
    assert [n.pitch for n in s.notes] == [60, 62, 64]
    assert all(n.end > n.start for n in s.notes)


def test_vocabulary_is_fixed_by_config_and_round_trips():
    enc = EncodingConfig()
    vocab = encoding_for(enc).vocabulary()
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
    from neurotunes.encodings.classic import normal_order

    s = _grid_score()
    toks = CLASSIC.encode(s)
    assert toks[0] == "BOS"
    assert toks[1:] == ["0.4", "D5", "E5", "C4"]  # C5+E4+C3 chord, then single notes; rests and durations lost
    assert normal_order([67, 71, 74, 77]) == (11, 2, 5, 7)  # G7 -> B D F G, as music21's normalOrder
    back = CLASSIC.decode(toks, tempo_bpm=120.0)
    assert [n.start for n in back.notes] == [0.0, 0.0, 0.25, 0.5, 0.75]  # fixed half-beat offsets
    assert {n.end - n.start for n in back.notes} == {0.5}
    assert [n.pitch for n in back.notes] == [60, 64, 74, 76, 60]
    assert CLASSIC.count_notes(toks) == 5
    vocab = CLASSIC.vocabulary([s])
    assert vocab.tokens == ("BOS", "0.4", "C4", "D5", "E5")


def test_tokens_transpose_in_both_encodings():
    assert EVENT.transpose_token("NOTE_60", 2) == "NOTE_62"
    assert EVENT.transpose_token("SHIFT_4", 2) == "SHIFT_4" and EVENT.transpose_token("DUR_2", -1) == "DUR_2"
    assert CLASSIC.transpose_token("C4", -1) == "B3"
    assert CLASSIC.transpose_token("0.4.7", 2) == "2.6.9"
    assert CLASSIC.transpose_token("BOS", 5) == "BOS"


def test_the_registry_offers_both_encodings_and_refuses_unknown_names():
    assert encodings.names()[:2] == ("event", "classic")
    assert encodings.get("classic") is type(CLASSIC) and encoding_for(EncodingConfig()) is EVENT
    assert "rhythm" in encodings.descriptions()["event"]
    with pytest.raises(BadConfig, match="unknown encoding 'midi-like'; available: event, classic"):
        EncodingConfig(name="midi-like")
    with pytest.raises(BadConfig, match="unknown encoding 'midi-like'"):
        encodings.get("midi-like")
    with pytest.raises(BadConfig, match="taken"):
        encodings.register(type("Impostor", (type(EVENT),), {}))  # another class under the name "event"


def test_cli_offers_the_registered_encodings():
    from neurotunes.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    train = next(a for a in commands["train"]._actions if a.dest == "encoding")
    assert tuple(train.choices) == encodings.names() and train.default == "event"


def test_each_encoding_says_whether_a_vocabulary_fits_it():
    EVENT.check_vocabulary(EVENT.vocabulary())
    with pytest.raises(BadConfig, match="does not match its encoding settings"):
        EVENT.check_vocabulary(Vocabulary(["BOS", "NOTE_60"]))
    CLASSIC.check_vocabulary(CLASSIC.vocabulary([_grid_score()]))
    with pytest.raises(BadConfig, match="must start with BOS"):
        CLASSIC.check_vocabulary(Vocabulary(["C4", "BOS"]))


def test_token_facts_are_what_the_sampler_and_metrics_need():
    vocab = EVENT.vocabulary()
    facts = EVENT.facts(vocab)
    assert EVENT.facts(vocab) is facts  # computed once per vocabulary
    i = vocab.index
    assert facts.pitches[i["NOTE_60"]] == (60,) and facts.pitches[i["DUR_4"]] == () and facts.pitches[i["BOS"]] == ()
    assert facts.completes_note[i["DUR_4"]] and not facts.completes_note[i["NOTE_60"]]
    assert facts.time_shift[i["SHIFT_3"]] and not facts.time_shift[i["NOTE_60"]]
    assert facts.seconds_per_token(120.0)[i["SHIFT_3"]] == pytest.approx(3 * 0.125)
    assert facts.by_pitch[60] == (i["NOTE_60"],)
    with pytest.raises(ValueError):
        facts.carries_pitch[0] = True  # shared between generations: read-only
    cvocab = CLASSIC.vocabulary([_grid_score()])
    cfacts = CLASSIC.facts(cvocab)
    assert cfacts.pitches[cvocab.index["0.4"]] == (60, 64) and not cfacts.time_shift.any()
    assert cfacts.seconds_per_token(120.0)[cvocab.index["C4"]] == pytest.approx(0.25)  # half a beat
    assert cfacts.completes_note.tolist() == [False, True, True, True, True]


# --- today's behaviour, pinned before the move -----------------------------------------
# tests/golden/encoding_masks.json was written by generate._Grammar, _Steering and _Run as they were before
# encodings became plug-ins, on the notes of the golden seed-7 take (a real token sequence with chords and
# rests).  The grammar's masks and the steering's arrays must stay equal.
GOLDEN_MASKS = json.loads((ROOT / "tests" / "golden" / "encoding_masks.json").read_text())
GOLDEN_NOTES = json.loads((ROOT / "tests" / "golden" / "default_model.json").read_text())["seed7_64_notes"]


def _golden_piece() -> Score:
    return Score(notes=tuple(Note(pitch=p, start=s, end=e, velocity=v, program=pr) for p, s, e, v, pr in GOLDEN_NOTES),
                 tempo_bpm=120.0)


def _vocabulary(encoding):
    piece = _golden_piece()
    vocab = encoding.vocabulary([piece, piece.transpose(3)])
    if encoding is CLASSIC:
        assert list(vocab.tokens) == GOLDEN_MASKS["classic_vocab"]
    return vocab


@pytest.mark.parametrize("encoding", [EVENT, CLASSIC], ids=["event", "classic"])
@pytest.mark.parametrize("max_chord", [0, 2])
@pytest.mark.parametrize("primer", [False, True], ids=["no-primer", "primer"])
def test_grammar_masks_equal_the_ones_before_the_move(encoding, max_chord, primer):
    vocab = _vocabulary(encoding)
    ids = vocab.encode(encoding.encode(_golden_piece()))
    grammar = encoding.grammar(vocab, max_chord=max_chord)
    masks = []
    for k, token in enumerate(ids):
        grammar.observe(int(token))
        if primer and k == 5:
            grammar.after_primer()  # new music starts here: the event grammar moves time on first
        masks.append(grammar.mask().copy())
    masks = np.array(masks)
    golden = GOLDEN_MASKS[f"{encoding.name}_chord{max_chord}_primer{int(primer)}"]
    assert masks.sum(1).tolist() == golden["allowed"]
    assert hashlib.sha256(np.packbits(masks, axis=1).tobytes()).hexdigest() == golden["sha256"]


def test_a_grammar_copy_is_independent_for_beam_search():
    vocab = EVENT.vocabulary()
    grammar = EVENT.grammar(vocab, max_chord=2)
    grammar.observe(vocab.index["NOTE_60"])
    twin = grammar.copy()
    twin.observe(vocab.index["DUR_2"])
    assert grammar.mask()[vocab.index["DUR_2"]] and not grammar.mask()[vocab.index["NOTE_62"]]
    assert twin.mask()[vocab.index["NOTE_62"]] and not twin.mask()[vocab.index["NOTE_60"]]  # no pitch twice
    grammar.start()
    assert grammar.mask()[vocab.index["NOTE_60"]]


@pytest.mark.parametrize("encoding", [EVENT, CLASSIC], ids=["event", "classic"])
def test_steering_and_time_equal_the_ones_before_the_move(encoding):
    vocab = _vocabulary(encoding)
    config = GenerateConfig(scale="major", pitch_low=48, pitch_high=84, density=1.5, tempo_bpm=100.0)
    golden = GOLDEN_MASKS[f"{encoding.name}_steering"]
    steering = _Steering(vocab, encoding, config)
    facts = encoding.facts(vocab)
    assert np.flatnonzero(steering.allowed).tolist() == golden["allowed"]
    assert {str(i): list(facts.pitches[i]) for i in np.flatnonzero(facts.carries_pitch)} == golden["pitch_of"]
    assert steering.shift_ids.tolist() == golden["shift_ids"]
    assert getattr(steering, "shift_bias", np.zeros(0)).tolist() == golden["shift_bias"]
    z, _ = steering.adjust(np.sin(np.arange(len(vocab)) * 0.37), [62, 67, 67, 71])
    assert z.tolist() == golden["adjusted"]
    seconds = facts.seconds_per_token(config.tempo_bpm)
    moved = {str(i): float(seconds[i]) for i in np.flatnonzero(seconds)}
    assert moved == GOLDEN_MASKS[f"{encoding.name}_seconds_per_token"]
    assert np.flatnonzero(facts.completes_note).tolist() == GOLDEN_MASKS[f"{encoding.name}_completes"]
