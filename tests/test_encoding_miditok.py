"""The MidiTok encodings, TSD and REMI: real MidiTok, real chorales, a real tiny model."""

import subprocess
import sys

import numpy as np
import pytest

from neurotunes import encodings
from neurotunes.bundle import ModelBundle
from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig
from neurotunes.encodings import BOS, EncodingConfig, encoding_for
from neurotunes.errors import BadConfig
from neurotunes.generate import generate
from neurotunes.models import weight_shapes
from neurotunes.score import Note, Score
from tests.conftest import ROOT

TSD = encoding_for(EncodingConfig(name="tsd"))
REMI = encoding_for(EncodingConfig(name="remi"))
EVENT = encoding_for(EncodingConfig(name="event"))
STEP = 0.125  # one grid step (a sixteenth) at 120 BPM


def _notes(score):
    return [(n.pitch, n.start, n.end) for n in score.notes]


def _on_grid(*notes) -> Score:
    """Notes as (pitch, onset step, duration in steps) at 120 BPM."""
    return Score(notes=tuple(Note(pitch=p, start=s * STEP, end=(s + d) * STEP, velocity=90) for p, s, d in notes),
                 tempo_bpm=120.0)


# A C major chord held a beat, a sixteenth, a rest of 3 steps, a long note, a gap of more than two bars, a last note.
PIECE = _on_grid((60, 0, 4), (64, 0, 4), (67, 0, 2), (72, 4, 1), (50, 8, 32), (55, 60, 3))


def test_registered_and_miditok_is_imported_on_first_use_only():
    assert {"tsd", "remi"} <= set(encodings.names())
    assert encodings.descriptions()["remi"].startswith("REMI (MidiTok)")
    code = "import sys, neurotunes.encodings; print(sorted(m for m in ('miditok', 'symusic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_vocabularies_follow_the_grid_and_pitch_range():
    tsd, remi = TSD.vocabulary(), REMI.vocabulary()
    assert tsd.tokens[0] == BOS and remi.tokens[0] == BOS
    assert len(tsd) == 1 + 88 + 32 + 32  # pitches 21-108, durations and shifts of 1-32 sixteenths
    assert len(remi) == 1 + 1 + 88 + 32 + 16  # Bar, pitches, durations, 16 positions in a 4/4 bar
    assert "Pitch_21" in tsd.index and "Pitch_108" in tsd.index and "Pitch_109" not in tsd.index
    assert not any(t.startswith(("Velocity", "Tempo", "Program", "TimeSig", "PAD")) for t in tsd.tokens + remi.tokens)
    small = encoding_for(EncodingConfig(name="tsd", steps_per_quarter=3, pitch_low=48, pitch_high=72, max_shift=6,
                                        max_duration=6))
    vocab = small.vocabulary()
    assert [t for t in vocab.tokens if t.startswith("Pitch")] == [f"Pitch_{p}" for p in range(48, 73)]
    assert [small.token_time_steps(t) for t in vocab.tokens if t.startswith("TimeShift")] == list(range(1, 7))
    TSD.check_vocabulary(tsd)
    with pytest.raises(BadConfig, match="does not match"):
        TSD.check_vocabulary(EVENT.vocabulary())
    with pytest.raises(BadConfig, match="does not match"):
        REMI.check_vocabulary(tsd)


def test_tsd_tokens_and_round_trip_with_chords_and_rests():
    tokens = TSD.encode(PIECE)
    assert tokens[:8] == ["BOS", "Pitch_60", "Duration_1.0.4", "Pitch_64", "Duration_1.0.4", "Pitch_67",
                          "Duration_0.2.4", "TimeShift_1.0.4"]
    assert tokens.count("TimeShift_8.0.4") == 1  # 52 steps of gap: the longest shift, then the rest
    assert _notes(TSD.decode(tokens, tempo_bpm=120.0)) == _notes(PIECE)
    assert TSD.encode(PIECE, bos=False) == tokens[1:]
    assert TSD.count_notes(tokens) == len(PIECE) == sum(map(TSD.completes_note, tokens))


def test_remi_tokens_and_round_trip_with_chords_and_rests():
    tokens = REMI.encode(PIECE)
    assert tokens[:4] == ["BOS", "Bar_None", "Position_0", "Pitch_60"]
    assert "Position_4" in tokens and tokens.count("Bar_None") == 4  # onset 60 is in the fourth 16-step bar
    assert _notes(REMI.decode(tokens, tempo_bpm=120.0)) == _notes(PIECE)
    slow = PIECE.with_tempo(60.0)
    assert REMI.encode(slow) == tokens  # the grid is in beats: the tempo does not change the tokens
    assert _notes(REMI.decode(tokens, tempo_bpm=60.0)) == _notes(slow)


@pytest.mark.parametrize("enc", [TSD, REMI], ids=["tsd", "remi"])
def test_the_grid_snaps_doubles_fold_and_drums_as_in_the_event_encoding(enc):
    rough = Score(notes=(
        Note(pitch=60, start=0.01, end=0.49),  # 0-4 steps after snapping
        Note(pitch=60, start=0.0, end=0.24),  # the same onset and pitch, shorter: dropped
        Note(pitch=120, start=0.5, end=0.75),  # above the range: folded to 108
        Note(pitch=38, start=0.5, end=9.0),  # 68 steps long: cut to 32
        Note(pitch=36, start=0.25, end=0.5, is_drum=True),
    ), tempo_bpm=120.0)
    back = enc.decode(enc.encode(rough), tempo_bpm=120.0, program=40, velocity=70, metadata={"from": "test"})
    assert _notes(back) == [(60, 0.0, 0.5), (38, 0.5, 4.5), (108, 0.5, 0.75)]
    assert _notes(back) == _notes(EVENT.quantize(rough))
    assert {(n.program, n.velocity) for n in back.notes} == {(40, 70)} and back.metadata["from"] == "test"
    assert enc.encode(Score()) == ["BOS"] and len(enc.decode(["BOS"])) == 0 and len(enc.decode([])) == 0


@pytest.fixture(scope="module")
def chorales():
    from neurotunes.corpus import load_corpus

    return load_corpus("bach", limit=2)


@pytest.mark.parametrize("enc", [TSD, REMI], ids=["tsd", "remi"])
def test_bach_chorales_round_trip_note_for_note_on_the_grid(enc, chorales):
    for piece in chorales:
        tokens = enc.encode(piece)
        enc.vocabulary().encode(tokens)  # every token is in the vocabulary
        back = enc.decode(tokens, tempo_bpm=piece.tempo_bpm)
        assert len(back) > 100
        assert _notes(back) == _notes(EVENT.quantize(piece))
        assert _notes(enc.decode(enc.encode(back), tempo_bpm=piece.tempo_bpm)) == _notes(back)
        assert enc.count_notes(tokens) == len(back)


@pytest.mark.parametrize("enc", [TSD, REMI], ids=["tsd", "remi"])
def test_garbage_decodes_without_raising(enc):
    vocab = enc.vocabulary()
    rng = np.random.default_rng(7)
    strangers = ["BOS", "NOTE_60", "Pitch_x", "Duration_9", "TimeShift_9.9.9", "Position_99", "", "_"]
    for _ in range(100):
        tokens = list(rng.choice(vocab.tokens, size=int(rng.integers(0, 60)))) + list(rng.choice(strangers, size=3))
        rng.shuffle(tokens)
        score = enc.decode(tokens, tempo_bpm=100.0)
        assert len(score) <= sum(map(enc.completes_note, tokens))  # a note needs its Duration
        assert all(n.pitch in range(21, 109) for n in score.notes)


def test_tsd_facts_count_grid_steps_exactly():
    vocab = TSD.vocabulary()
    facts = TSD.facts(vocab)
    assert facts.time_steps[vocab.index["TimeShift_1.0.4"]] == 4 and facts.time_steps[vocab.index["TimeShift_0.1.4"]] == 1
    assert facts.seconds_per_token(120.0)[vocab.index["TimeShift_2.2.4"]] == pytest.approx(10 * STEP)
    assert [vocab.tokens[i] for i in np.flatnonzero(facts.time_shift)] == [t for t in vocab.tokens if "TimeShift" in t]
    assert facts.pitches[vocab.index["Pitch_61"]] == (61,) and facts.by_pitch[61] == (vocab.index["Pitch_61"],)
    assert [vocab.tokens[i] for i in np.flatnonzero(facts.completes_note)] == [t for t in vocab.tokens
                                                                               if t.startswith("Duration")]
    ids = vocab.encode(TSD.encode(PIECE))
    assert facts.time_steps[ids].sum() == 60  # the last onset, in steps


def test_remi_facts_put_time_at_the_end_of_the_current_bar():
    vocab = REMI.vocabulary()
    facts = REMI.facts(vocab)
    assert facts.time_steps[vocab.index["Bar_None"]] == 16 and facts.time_steps[vocab.index["Position_12"]] == 0
    assert [vocab.tokens[i] for i in np.flatnonzero(facts.time_shift)] == ["Bar_None"]
    ids = vocab.encode(REMI.encode(PIECE))
    counted = facts.time_steps[ids].sum()
    assert counted - 16 <= 60 < counted  # the last onset lies in the bar that the count ends


@pytest.mark.parametrize("enc", [TSD, REMI], ids=["tsd", "remi"])
def test_transpose_moves_pitch_tokens_only(enc):
    assert enc.transpose_token("Pitch_60", 3) == "Pitch_63" and enc.transpose_token("Pitch_60", -12) == "Pitch_48"
    assert enc.transpose_token("Duration_1.0.4", 3) == "Duration_1.0.4" and enc.transpose_token("BOS", 2) == "BOS"
    moved = [enc.transpose_token(t, 5) for t in enc.encode(PIECE)]
    assert moved == enc.encode(PIECE.transpose(5))


def _walk(enc, grammar, vocab, rng, steps):
    tokens = ["BOS"]
    grammar.observe(vocab.index["BOS"])
    for _ in range(steps):
        allowed = grammar.mask()
        assert allowed.any() and not allowed[vocab.index["BOS"]]
        token = int(rng.choice(np.flatnonzero(allowed)))
        grammar.observe(token)
        tokens.append(vocab.tokens[token])
    return tokens


@pytest.mark.parametrize("enc", [TSD, REMI], ids=["tsd", "remi"])
def test_every_sequence_the_grammar_allows_decodes_note_for_note(enc):
    vocab = enc.vocabulary()
    rng = np.random.default_rng(3)
    for trial in range(40):
        max_chord = trial % 4
        tokens = _walk(enc, enc.grammar(vocab, max_chord=max_chord), vocab, rng, 60)
        score = enc.decode(tokens)
        assert len(score) == sum(map(enc.completes_note, tokens))  # no note lost, none made up
        onsets = [n.start for n in score.notes]
        assert len(set(zip(onsets, score.pitch_list()))) == len(score)  # no pitch twice in a chord
        if max_chord:
            assert max(onsets.count(t) for t in onsets) <= max_chord
        assert _notes(enc.decode(enc.encode(score))) == _notes(score)


def test_tsd_grammar_masks():
    vocab = TSD.vocabulary()
    kinds = np.array([t.split("_")[0] for t in vocab.tokens])
    grammar = TSD.grammar(vocab, max_chord=2)
    grammar.observe(vocab.index["BOS"])
    assert set(kinds[grammar.mask()]) == {"Pitch", "TimeShift"}
    grammar.observe(vocab.index["Pitch_60"])
    assert set(kinds[grammar.mask()]) == {"Duration"}
    grammar.observe(vocab.index["Duration_1.0.4"])
    twin = grammar.copy()
    assert not grammar.mask()[vocab.index["Pitch_60"]] and grammar.mask()[vocab.index["Pitch_64"]]
    grammar.observe(vocab.index["Pitch_64"])
    grammar.observe(vocab.index["Duration_1.0.4"])
    assert set(kinds[grammar.mask()]) == {"TimeShift"}  # two notes at this onset: the cap
    assert twin.mask()[vocab.index["Pitch_64"]]  # the copy did not see the second note
    grammar.observe(vocab.index["TimeShift_1.0.4"])
    assert grammar.mask()[vocab.index["Pitch_60"]]
    grammar.after_primer()
    assert set(kinds[grammar.mask()]) == {"TimeShift"}  # new music starts after the primer's last onset


def test_remi_grammar_masks():
    vocab = REMI.vocabulary()
    kinds = np.array([t.split("_")[0] for t in vocab.tokens])
    grammar = REMI.grammar(vocab)
    grammar.observe(vocab.index["BOS"])
    assert set(kinds[grammar.mask()]) == {"Bar"}
    grammar.observe(vocab.index["Bar_None"])
    assert set(kinds[grammar.mask()]) == {"Bar", "Position"}
    grammar.observe(vocab.index["Position_4"])
    assert set(kinds[grammar.mask()]) == {"Pitch"}
    grammar.observe(vocab.index["Pitch_60"])
    assert set(kinds[grammar.mask()]) == {"Duration"}
    grammar.observe(vocab.index["Duration_0.2.4"])
    allowed = grammar.mask()
    positions = [vocab.tokens[i] for i in np.flatnonzero(allowed & (kinds == "Position"))]
    assert positions == [f"Position_{k}" for k in range(5, 16)]  # time never runs back inside a bar
    assert allowed[vocab.index["Bar_None"]] and allowed[vocab.index["Pitch_64"]] and not allowed[vocab.index["Pitch_60"]]
    grammar.after_primer()
    assert set(kinds[grammar.mask()]) == {"Bar", "Position"}
    grammar.observe(vocab.index["Position_15"])
    grammar.observe(vocab.index["Pitch_62"])
    grammar.observe(vocab.index["Duration_0.1.4"])
    assert set(kinds[grammar.mask()]) == {"Bar", "Pitch"}  # the bar's last position: only a Bar moves time on


@pytest.mark.parametrize("name", ["tsd", "remi"])
def test_a_bundle_saves_loads_and_generates_through_the_plug_in(name):
    enc = encoding_for(EncodingConfig(name=name))
    vocab = enc.vocabulary()
    model = ModelConfig(arch="lstm", vocab_size=len(vocab), units=8, layers=1, embedding_dim=4, dropout=0.0)
    rng = np.random.default_rng(0)
    weights = tuple(rng.normal(scale=0.5, size=s).astype(np.float32) for s in weight_shapes(model))
    made = ModelBundle(model=model, encoding=enc.config, vocab=vocab, weights=weights, info={"name": name})
    bundle = ModelBundle.load(made.to_zip())  # the reader asks the encoding whether the vocabulary fits
    assert bundle.encoding.name == name and bundle.vocab == vocab
    score = generate(bundle, GenerateConfig(seed=1, length=16, tempo_bpm=120.0, max_chord=3))
    assert len(score) >= 16  # random weights, yet every take decodes to the notes the grammar let through
    assert all(abs(n.start / STEP - round(n.start / STEP)) < 1e-9 for n in score.notes)
    primed = generate(bundle, GenerateConfig(seed=1, length=8, tempo_bpm=120.0), primer=PIECE)
    assert _notes(primed)[:len(PIECE)] == _notes(PIECE)
    assert min(n.start for n in primed.notes[len(PIECE):]) > 60 * STEP  # after the primer's last onset
    timed = generate(bundle, GenerateConfig(seed=1, length=1000, seconds=5.0, tempo_bpm=120.0))
    last = max(n.start for n in timed.notes)
    if name == "tsd":
        assert last < 5.0  # time shifts count exactly
    else:
        assert 2.0 <= last < 4.0  # counted by bars: the take ends on the 4 s bar line, the last before 5 s


def test_a_tiny_model_trains_on_chorales_and_generates():
    """REMI, the stricter grammar (a Bar first, Positions only forward); TSD shares every other line of the path."""
    from neurotunes.corpus import load_corpus
    from neurotunes.dataset import split_dataset
    from neurotunes.training import train

    name = "remi"
    pieces = load_corpus("bach", limit=4)
    dataset = split_dataset(pieces, validation_fraction=0.25, encoding=EncodingConfig(name=name))
    result = train(dataset, ModelConfig(arch="lstm", units=16, layers=1, embedding_dim=8, dropout=0.0),
                   TrainConfig(epochs=1, batch_size=8, sequence_length=32, patience=0))
    bundle = result.bundle
    assert bundle.encoding.name == name and bundle.vocab == encoding_for(bundle.encoding).vocabulary()
    assert 0.3 < result.bundle.metrics.history["loss"][-1] < 10
    score = generate(bundle, GenerateConfig(seed=0, length=12, tempo_bpm=100.0))
    assert len(score) >= 12 and all(21 <= p <= 108 for p in score.pitch_list())
