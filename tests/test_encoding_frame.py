"""The frame encoding (BachBot's chorale format): frames of voices top to bottom, ties marked.

Round trips of a small four-voice piece made here and of real Bach chorales,
forgiving decoding, the grammar's masks, the per-token facts, and a real model
trained and sampled through the plug-in.
"""

import numpy as np
import pytest

from neurotunes import encodings
from neurotunes.bundle import ModelBundle
from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig
from neurotunes.encodings import BOS, EncodingConfig, Vocabulary, encoding_for
from neurotunes.errors import BadConfig
from neurotunes.generate import generate, generate_traced
from neurotunes.models import weight_shapes
from neurotunes.score import Note, Score

EIGHTHS = encoding_for(EncodingConfig(name="frame", steps_per_quarter=2))
SIXTEENTHS = encoding_for(EncodingConfig(name="frame"))
F = 0.25  # seconds per eighth-note frame at 120 BPM


def _chorale_bit() -> Score:
    """Four voices at 120 BPM on an eighth grid (0.25 s a frame): a soprano tied over three frames while the
    alto changes note under it, a tenor re-striking the same pitch, a bass rest, two notes off the grid."""
    notes = [
        Note(start=0, end=3 * F, pitch=72),  # soprano C5, three frames (tied twice)
        Note(start=3 * F, end=4 * F, pitch=71),
        Note(start=0, end=F, pitch=67),  # alto G4 then E4 under the held C5: a chord change under a tie
        Note(start=F, end=4 * F, pitch=64),
        Note(start=0, end=2 * F, pitch=55),  # tenor G3 struck twice: two notes, not one
        Note(start=2 * F, end=4 * F, pitch=55),
        Note(start=0, end=F, pitch=48),  # bass C3, a rest of two frames, then G2
        Note(start=3 * F + 0.02, end=4 * F + 0.03, pitch=43),  # off the grid: snaps to frame 3-4
        Note(start=6 * F - 0.04, end=6 * F + 0.05, pitch=60),  # off the grid and short: one frame, from frame 6
    ]
    return Score(notes=tuple(notes), tempo_bpm=120.0)


def _cells(score: Score, step: float) -> tuple[set, set]:
    """(pitch, frame) cells where a note sounds, and (pitch, frame) where one starts."""
    sounding, onsets = set(), set()
    for n in score.notes:
        on, off = round(n.start / step), round(n.end / step)
        onsets.add((n.pitch, on))
        sounding |= {(n.pitch, t) for t in range(on, max(off, on + 1))}
    return sounding, onsets


def test_frame_is_registered_with_a_fixed_vocabulary():
    assert encodings.get("frame") is type(EIGHTHS) and "frame" in encodings.names()
    assert encodings.names().index("frame") > encodings.names().index("classic")
    assert encodings.descriptions()["frame"].startswith("Frames: voices top to bottom")
    config = EncodingConfig(name="frame", steps_per_quarter=2)
    assert EncodingConfig.from_dict(config.to_dict()) == config and encoding_for(config) is EIGHTHS
    vocab = EIGHTHS.vocabulary()
    assert len(vocab) == 2 + 2 * (108 - 21 + 1) and vocab.tokens[:3] == ("BOS", "|", "P_21")
    assert "H_108" in vocab.index and "P_20" not in vocab.index
    EIGHTHS.check_vocabulary(vocab)
    with pytest.raises(BadConfig, match="does not match its encoding settings"):
        EIGHTHS.check_vocabulary(Vocabulary(["BOS", "|", "P_60"]))


def test_tokens_are_frames_of_descending_pitches_with_ties():
    tokens = EIGHTHS.encode(_chorale_bit())
    frames = " ".join(tokens[1:]).split(" |")
    assert tokens[0] == BOS and tokens[-1] == "|"
    assert [f.split() for f in frames[:7]] == [
        ["P_72", "P_67", "P_55", "P_48"],
        ["H_72", "P_64", "H_55"],  # the alto moves under the held soprano; the bass rests
        ["H_72", "H_64", "P_55"],  # the tenor strikes G3 again
        ["P_71", "H_64", "H_55", "P_43"],  # the late bass note snapped onto the grid
        [], [],  # nothing sounds: just "|"
        ["P_60"],
    ]
    assert frames[7:] == [""]  # the last sounding frame ends the piece
    assert EIGHTHS.count_notes(tokens) == 9


@pytest.mark.parametrize("encoding", [EIGHTHS, SIXTEENTHS], ids=["eighths", "sixteenths"])
def test_round_trip_keeps_every_note_on_the_grid(encoding):
    piece = _chorale_bit()
    back = encoding.decode(encoding.encode(piece), tempo_bpm=120.0, program=52, velocity=70,
                           metadata={"source": "test"})
    step = 0.5 / encoding.steps_per_quarter
    expected = sorted((n.pitch, round(n.start / step), max(round(n.end / step), round(n.start / step) + 1))
                      for n in piece.notes)
    assert sorted((n.pitch, round(n.start / step), round(n.end / step)) for n in back.notes) == expected
    assert all(abs(n.start / step - round(n.start / step)) < 1e-9 for n in back.notes)  # on the grid
    assert {(n.program, n.velocity) for n in back.notes} == {(52, 70)} and back.metadata["source"] == "test"
    again = encoding.quantize(back)
    assert [(n.pitch, n.start, n.end) for n in again.notes] == [(n.pitch, n.start, n.end) for n in back.notes]


def test_overlapping_notes_of_one_pitch_become_one_and_pitches_fold_into_range():
    doubled = Score(notes=(Note(start=0, end=2 * F, pitch=64), Note(start=F, end=4 * F, pitch=64),
                           Note(start=0, end=F, pitch=12), Note(start=0, end=F, pitch=120)), tempo_bpm=120.0)
    tokens = EIGHTHS.encode(doubled)
    assert tokens[1:5] == ["P_108", "P_64", "P_24", "|"]  # 120 and 12 folded by octaves into 21..108
    back = EIGHTHS.decode(tokens, tempo_bpm=120.0)
    assert [(n.pitch, n.start, n.end) for n in back.notes] == [(24, 0, F), (64, 0, 4 * F), (108, 0, F)]
    assert EIGHTHS.encode(Score(notes=(), tempo_bpm=120.0)) == ["BOS"]
    assert EIGHTHS.encode(doubled, bos=False)[0] == "P_108"


def test_decoding_is_forgiving():
    score = EIGHTHS.decode(["H_60", "P_64", "P_59", "P_59", "|", "P_60", "H_59", "|", "junk", "P_999", "H_x",
                            "H_59", "|", "BOS", "H_60", "|"], tempo_bpm=120.0)
    assert [(n.pitch, n.start, n.end) for n in score.notes] == [
        (59, 0, 3 * F),  # P_64 after H_60 goes up and the second P_59 repeats: both skipped; H_59 holds on
        (60, 0, F),  # an H with nothing to hold starts a note ...
        (60, F, 2 * F),  # ... a P of a sounding pitch strikes it again, and a pitch not continued ends
        (60, 3 * F, 4 * F),  # BOS ties nothing across it: this H starts a note
    ]
    rng = np.random.default_rng(0)
    vocab = list(EIGHTHS.vocabulary().tokens) + ["", "P_", "H_-1", "P_128", "NOTE_60", "|x", "DUR_4"]
    for _ in range(200):
        tokens = [vocab[i] for i in rng.integers(0, len(vocab), size=int(rng.integers(0, 60)))]
        out = EIGHTHS.decode(tokens, tempo_bpm=97.0)
        assert all(n.end > n.start >= 0 and 21 <= n.pitch <= 108 for n in out.notes)
        starts = sum(t.startswith(("P_", "H_")) and t in EIGHTHS.vocabulary().index for t in tokens)
        assert len(out.notes) <= starts


def test_facts_say_which_tokens_add_a_pitch_move_time_and_complete_a_note():
    vocab = EIGHTHS.vocabulary()
    facts = EIGHTHS.facts(vocab)
    i = vocab.index
    assert facts.pitches[i["P_60"]] == (60,) and facts.pitches[i["H_60"]] == () and facts.pitches[i["|"]] == ()
    assert facts.completes_note[i["P_60"]] and not facts.completes_note[i["H_60"]]
    assert not facts.completes_note[i["|"]] and not facts.completes_note[i["BOS"]]
    assert np.flatnonzero(facts.time_steps).tolist() == [i["|"]] and facts.time_steps[i["|"]] == 1
    assert np.flatnonzero(facts.time_shift).tolist() == [i["|"]]  # the rest density reweights
    assert facts.seconds_per_token(120.0)[i["|"]] == pytest.approx(F)
    assert SIXTEENTHS.facts(SIXTEENTHS.vocabulary()).seconds_per_token(120.0)[i["|"]] == pytest.approx(F / 2)
    assert facts.by_pitch[60] == (i["P_60"],) and facts.carries_pitch.sum() == 88


def test_transpose_moves_pitches_and_folds_into_range():
    assert EIGHTHS.transpose_token("P_60", 2) == "P_62" and EIGHTHS.transpose_token("H_60", -3) == "H_57"
    assert EIGHTHS.transpose_token("P_107", 5) == "P_100" and EIGHTHS.transpose_token("H_22", -2) == "H_32"
    assert EIGHTHS.transpose_token("|", 4) == "|" and EIGHTHS.transpose_token("BOS", 4) == "BOS"
    piece = _chorale_bit()
    moved = [EIGHTHS.transpose_token(t, 3) for t in EIGHTHS.encode(piece)]
    assert moved == EIGHTHS.encode(piece.transpose(3))


def _allowed(grammar, vocab) -> set[str]:
    return {vocab.tokens[k] for k in np.flatnonzero(grammar.mask())}


def test_grammar_keeps_frames_descending_holds_only_what_sounded_and_caps_chords():
    vocab = EIGHTHS.vocabulary()
    grammar = EIGHTHS.grammar(vocab)
    allowed = _allowed(grammar, vocab)
    assert "BOS" not in allowed and "|" in allowed and "P_108" in allowed and not any(t[0] == "H" for t in allowed)
    for token in ["BOS", "P_72", "P_64"]:
        grammar.observe(vocab.index[token])
    allowed = _allowed(grammar, vocab)
    assert "P_63" in allowed and "P_64" not in allowed and "P_70" not in allowed and "|" in allowed
    assert not any(t[0] == "H" for t in allowed)  # nothing sounded in a previous frame
    grammar.observe(vocab.index["|"])
    assert {t for t in _allowed(grammar, vocab) if t[0] == "H"} == {"H_72", "H_64"}
    grammar.observe(vocab.index["H_72"])
    twin = grammar.copy()  # beam search forks here
    twin.observe(vocab.index["P_62"])
    assert {t for t in _allowed(grammar, vocab) if t[0] == "H"} == {"H_64"}
    assert "P_66" in _allowed(grammar, vocab) and "P_71" in _allowed(grammar, vocab)
    assert not any(t[0] == "H" for t in _allowed(twin, vocab))  # H_64 would go up after P_62
    assert "P_62" not in _allowed(twin, vocab) and "P_61" in _allowed(twin, vocab)
    twin.observe(vocab.index["|"])
    assert {t for t in _allowed(twin, vocab) if t[0] == "H"} == {"H_72", "H_62"}  # H_64 was not continued
    grammar.observe(vocab.index["BOS"])
    assert not any(t[0] == "H" for t in _allowed(grammar, vocab))

    capped = EIGHTHS.grammar(vocab, max_chord=2)
    for token in ["P_72", "P_64"]:
        capped.observe(vocab.index[token])
    assert _allowed(capped, vocab) == {"|"}
    uncapped = EIGHTHS.grammar(vocab)
    for p in range(100, 92, -1):
        assert f"P_{p}" in _allowed(uncapped, vocab)
        uncapped.observe(vocab.index[f"P_{p}"])
    assert _allowed(uncapped, vocab) == {"|"}  # eight notes: a sane default cap
    with pytest.raises(ValueError):
        capped.mask()[0] = True  # the full frame's mask is shared: read-only


def test_the_grammar_accepts_every_encoded_piece():
    vocab = EIGHTHS.vocabulary()
    for piece in (_chorale_bit(), _chorale_bit().transpose(-5)):
        grammar = EIGHTHS.grammar(vocab, max_chord=4)
        for token in vocab.encode(EIGHTHS.encode(piece)):
            if token != vocab.index["BOS"]:
                assert grammar.mask()[token], vocab.tokens[token]
            grammar.observe(int(token))


@pytest.fixture(scope="module")
def chorales():
    from neurotunes.corpus import load_corpus

    return load_corpus("bach", limit=6)


def test_bach_chorales_survive_the_eighth_grid(chorales):
    for full in chorales[:3]:
        step = full.seconds_per_beat / 2
        piece = full.with_notes([n for n in full.notes if n.duration >= step - 1e-9])
        assert len(piece.notes) >= 0.85 * len(full.notes)  # the rest are passing sixteenths
        assert all(abs(t / step - round(t / step)) < 1e-6 for n in piece.notes for t in (n.start, n.end))
        back = EIGHTHS.decode(EIGHTHS.encode(piece), tempo_bpm=piece.tempo_bpm)
        sounding, onsets = _cells(piece, step)
        back_sounding, back_onsets = _cells(back, step)
        assert back_sounding == sounding
        # A voice entering on a pitch another voice already holds joins that note (BachBot does the same).
        absorbed = {(n.pitch, round(n.start / step)) for n in piece.notes for m in piece.notes
                    if m.pitch == n.pitch and m.start < n.start - 1e-9 and n.start < m.end - 1e-9}
        assert back_onsets == onsets - absorbed and len(absorbed) < 0.05 * len(onsets)
        with_short = EIGHTHS.decode(EIGHTHS.encode(full), tempo_bpm=full.tempo_bpm)
        assert _cells(with_short, step)[0] >= sounding  # the sixteenths, lengthened to a frame, cover no voice


def _random_bundle() -> ModelBundle:
    vocab = EIGHTHS.vocabulary()
    model = ModelConfig(arch="lstm", vocab_size=len(vocab), units=8, layers=1, embedding_dim=4, dropout=0.0)
    rng = np.random.default_rng(1)
    weights = tuple(rng.normal(scale=0.5, size=s).astype(np.float32) for s in weight_shapes(model))
    return ModelBundle(model=model, encoding=EIGHTHS.config, vocab=vocab, weights=weights, info={"name": "frames"})


def test_a_frame_bundle_loads_and_the_sampler_follows_the_grammar():
    bundle = ModelBundle.load(_random_bundle().to_zip())  # the reader asks the encoding whether the vocabulary fits
    assert bundle.encoding == EIGHTHS.config
    take = generate_traced(bundle, GenerateConfig(seed=2, length=30, tempo_bpm=120.0, max_chord=3), trace_top=1)
    tokens = [t.token for t in take.trace]
    assert sum(t.startswith("P_") for t in tokens) == 30 and len(take.score.notes) == 30  # one note per P
    previous: set[int] = set()
    for frame in " ".join(tokens).split("|")[:-1]:
        pitches = [int(t[2:]) for t in frame.split()]
        assert pitches == sorted(pitches, reverse=True) and len(set(pitches)) == len(pitches) <= 3
        assert {int(t[2:]) for t in frame.split() if t[0] == "H"} <= previous
        previous = set(pitches)
    primer = _chorale_bit()
    primed = generate(bundle, GenerateConfig(seed=2, length=10, tempo_bpm=120.0), primer=primer)
    assert primed.metadata["primer_notes"] == len(primer.notes)
    kept = EIGHTHS.quantize(primer).notes
    assert all(any(m.pitch == n.pitch and m.start == n.start for m in primed.notes) for n in kept)


@pytest.mark.slow
def test_a_tiny_model_trains_on_chorale_frames_and_generates(chorales, tmp_path):
    from neurotunes.dataset import split_dataset
    from neurotunes.training import train

    dataset = split_dataset(chorales, validation_fraction=0.2, seed=0,
                            encoding=EncodingConfig(name="frame", steps_per_quarter=2))
    result = train(dataset, ModelConfig(arch="lstm", units=32, layers=1, embedding_dim=16, dropout=0.0),
                   TrainConfig(epochs=1, batch_size=16, sequence_length=64, patience=0), name="frame smoke")
    bundle = ModelBundle.load(result.bundle.save(tmp_path / "frames"))
    assert bundle.encoding.name == "frame" and bundle.vocab == EIGHTHS.vocabulary()
    assert np.isfinite(result.history["loss"]).all()
    take = generate(bundle, GenerateConfig(seed=0, length=40, tempo_bpm=90.0, max_chord=4))
    assert len(take.notes) == 40  # one P token per new note
    assert all(21 <= n.pitch <= 108 and n.end > n.start for n in take.notes)
    assert take == generate(bundle, GenerateConfig(seed=0, length=40, tempo_bpm=90.0, max_chord=4))


BEATS = encoding_for(EncodingConfig(name="beat-frame", steps_per_quarter=2))


def test_beat_frames_mark_where_the_beat_falls_and_decode_like_plain_frames():
    assert encodings.get("beat-frame") is type(BEATS) and isinstance(BEATS, type(EIGHTHS))
    vocab = BEATS.vocabulary()
    assert vocab.tokens[:4] == ("BOS", "|0", "|1", "P_21") and len(vocab) == len(EIGHTHS.vocabulary()) + 1
    piece = _chorale_bit()
    tokens = BEATS.encode(piece)
    plain = EIGHTHS.encode(piece)
    # The same frames; each end names the step of the beat the next frame is (eighths: 1, 0, 1, 0, ...).
    ends = [t for t in tokens if t.startswith("|")]
    assert ends == ["|1", "|0"] * (len(ends) // 2) + ["|1"] * (len(ends) % 2)
    assert [("|" if t.startswith("|") else t) for t in tokens] == plain
    back = BEATS.decode(tokens, tempo_bpm=120.0)
    assert back.notes == EIGHTHS.decode(plain, tempo_bpm=120.0).notes
    facts = BEATS.facts(vocab)
    assert np.flatnonzero(facts.time_steps).tolist() == [vocab.index["|0"], vocab.index["|1"]]


def test_the_beat_frame_grammar_allows_only_the_right_frame_end_and_follows_a_primer():
    vocab = BEATS.vocabulary()
    grammar = BEATS.grammar(vocab)
    grammar.observe(vocab.index["BOS"])
    allowed = _allowed(grammar, vocab)
    assert "|1" in allowed and "|0" not in allowed  # frame 0 starts the beat: the next frame is its second step
    grammar.observe(vocab.index["P_60"])
    assert vocab.tokens[grammar.end_token()] == "|1"
    grammar.observe(vocab.index["|1"])
    assert "|0" in _allowed(grammar, vocab) and "|1" not in _allowed(grammar, vocab)
    assert grammar.bars.sum() == 2 and grammar.bars[vocab.index["|0"]] and grammar.bars[vocab.index["|1"]]
    grammar.observe(vocab.index["|0"])
    assert "|1" in _allowed(grammar, vocab)
    # A primer that starts mid-beat (no BOS) sets the count with its first frame end.
    other = BEATS.grammar(vocab)
    other.observe(vocab.index["|0"])
    assert vocab.tokens[other.end_token()] == "|1"
    for piece in (_chorale_bit(), _chorale_bit().transpose(2)):
        grammar = BEATS.grammar(vocab, max_chord=4)
        for token in vocab.encode(BEATS.encode(piece)):
            if token != vocab.index["BOS"]:
                assert grammar.mask()[token], vocab.tokens[token]
            grammar.observe(int(token))


def test_a_beat_frame_model_keeps_the_beat_in_what_it_writes():
    vocab = BEATS.vocabulary()
    model = ModelConfig(arch="gru", vocab_size=len(vocab), units=8, layers=1, embedding_dim=4, dropout=0.0)
    rng = np.random.default_rng(3)
    weights = tuple(rng.normal(scale=0.5, size=s).astype(np.float32) for s in weight_shapes(model))
    bundle = ModelBundle.load(ModelBundle(model=model, encoding=BEATS.config, vocab=vocab, weights=weights,
                                          info={"name": "beats"}).to_zip())
    take = generate_traced(bundle, GenerateConfig(seed=4, length=40, tempo_bpm=120.0, max_chord=4), trace_top=1)
    ends = [t.token for t in take.trace if t.token.startswith("|")]
    assert len(ends) > 4 and all(int(e[1:]) == (k + 1) % 2 for k, e in enumerate(ends))


def test_a_beat_frame_model_harmonizes_a_melody_in_time_with_its_beat():
    from neurotunes.harmonize import VOICES, can_harmonize, harmonize

    vocab = BEATS.vocabulary()
    model = ModelConfig(arch="gru", vocab_size=len(vocab), units=8, layers=1, embedding_dim=4, dropout=0.0)
    rng = np.random.default_rng(5)
    weights = tuple(rng.normal(scale=0.5, size=s).astype(np.float32) for s in weight_shapes(model))
    bundle = ModelBundle(model=model, encoding=BEATS.config, vocab=vocab, weights=weights, info={"name": "beats"})
    assert can_harmonize(bundle)
    melody = Score(notes=tuple(Note(start=i * 0.5, end=(i + 1) * 0.5, pitch=p)
                               for i, p in enumerate((67, 69, 71, 72, 71, 69, 67))), tempo_bpm=120.0)
    chorale = harmonize(bundle, melody, seed=1)
    soprano = chorale.voice(VOICES[0])
    assert [(n.pitch, n.start) for n in soprano.notes] == [(n.pitch, n.start) for n in melody.notes]
    assert all(len(chorale.voice(v).notes) >= 1 for v in VOICES)


# --- bar frames: the place in the bar and the phrase ends --------------------------------------------------
BARS = encoding_for(EncodingConfig(name="bar-frame", steps_per_quarter=2))


def _hymn_bit(time_signature=(3, 4)) -> Score:
    """A 3/4 line at 120 BPM (0.25 s an eighth) with a one-beat pickup and a fermata on its fourth note:
    G4 | C5 D5 E5(fermata, a half note) | D5."""
    beats = [(0, 1, 67), (1, 2, 72), (2, 3, 74), (3, 5, 76), (5, 6, 74)]
    notes = tuple(Note(start=a * 0.5, end=b * 0.5, pitch=p) for a, b, p in beats)
    return Score(notes=notes, tempo_bpm=120.0, time_signature=time_signature,
                 metadata={"pickup_beats": 2.0, "fermata_beats": [3.0]})


def test_bar_frames_name_the_step_of_the_bar_start_a_pickup_in_its_place_and_mark_fermatas():
    assert encodings.get("bar-frame") is type(BARS) and isinstance(BARS, type(BEATS))
    vocab = BARS.vocabulary()
    assert vocab.tokens[:10] == ("BOS", "|0", "|1", "|2", "|3", "|4", "|5", "|6", "|7", "F")
    tokens = BARS.encode(_hymn_bit())
    # The pickup's missing two beats are four empty eighth frames; the G4 falls on step 4 of the 3/4 bar.
    assert tokens[:7] == ["BOS", "|1", "|2", "|3", "|4", "P_67", "|5"]
    ends = [int(t[1:]) for t in tokens if t.startswith("|")]
    assert ends == [(k + 1) % 6 for k in range(len(ends))]  # a bar of three quarters: six eighth frames
    # F opens the frame where the fermata's note starts (beat 3 of the line: frame 6), before its notes.
    frame_of_f = tokens.index("F")
    assert tokens[frame_of_f + 1] == "P_76" and tokens[frame_of_f - 1] == "|4"
    assert tokens.count("F") == 1
    # Decoding drops the pickup's silence and the mark: the notes are the line's, as the beat frames give them.
    back = BARS.decode(tokens, tempo_bpm=120.0)
    assert back.notes == BEATS.decode(BEATS.encode(_hymn_bit()), tempo_bpm=120.0).notes
    assert [(n.pitch, n.start, n.end) for n in back.notes] == [(n.pitch, n.start, n.end) for n in _hymn_bit().notes]
    # ...and what it read of the bars and marks goes with them, for the sheet music.
    assert back.time_signature == (3, 4)
    assert back.metadata["pickup_beats"] == 2.0 and back.metadata["fermata_beats"] == [3.0]
    # Without the notation's marks a piece starts on a downbeat and has no fermatas; 4/4 bars have 8 steps.
    plain = BARS.encode(_hymn_bit((4, 4)).replace(metadata={}))
    assert plain[1] == "P_67" and "F" not in plain
    assert BARS.decode(plain, tempo_bpm=120.0).time_signature == (4, 4)
    assert [int(t[1:]) for t in plain if t.startswith("|")][:9] == [1, 2, 3, 4, 5, 6, 7, 0, 1]
    # A 3/2 bar is written as two bars of 3/4.
    assert BARS.bar_steps(_hymn_bit((3, 2))) == BARS.bar_steps(_hymn_bit()) == 6
    facts = BARS.facts(vocab)
    f = vocab.index["F"]
    assert not facts.carries_pitch[f] and not facts.time_steps[f] and not facts.completes_note[f]


def test_the_bar_frame_grammar_puts_fermatas_first_and_lets_a_free_meter_close_a_bar_after_three_or_four_beats():
    vocab = BARS.vocabulary()
    for piece in (_hymn_bit(), _hymn_bit((4, 4)), _chorale_bit(), _hymn_bit().transpose(-3)):
        grammar = BARS.grammar(vocab, max_chord=4)
        for token in vocab.encode(BARS.encode(piece)):
            if token != vocab.index["BOS"]:
                assert grammar.mask()[token], vocab.tokens[token]
            grammar.observe(int(token))
    grammar = BARS.grammar(vocab)
    grammar.observe(vocab.index["BOS"])
    assert {"F", "|1"} <= _allowed(grammar, vocab) and "|0" not in _allowed(grammar, vocab)
    grammar.observe(vocab.index["F"])
    assert "F" not in _allowed(grammar, vocab)  # once a frame
    grammar.observe(vocab.index["P_60"])
    assert "F" not in _allowed(grammar, vocab)  # and only before the frame's notes
    ends_after = {}
    for step in range(8):
        grammar.observe(vocab.index[f"|{step}"])
        ends_after[step] = {t for t in _allowed(grammar, vocab) if t.startswith("|")}
    assert ends_after[3] == {"|4"}  # two beats: the bar goes on
    assert ends_after[5] == {"|6", "|0"}  # three beats: 3/4 or on to 4/4, the model chooses
    assert ends_after[7] == {"|0"}  # four beats: the longest bar
    # A meter set from outside (the harmonizer's melody) allows one end only.
    grammar.bar_steps = 6
    grammar.observe(vocab.index["|5"])
    assert {t for t in _allowed(grammar, vocab) if t.startswith("|")} == {"|0"}
    assert vocab.tokens[grammar.end_token()] == "|0"


def _tiny_bar_bundle(seed: int) -> ModelBundle:
    vocab = BARS.vocabulary()
    model = ModelConfig(arch="gru", vocab_size=len(vocab), units=8, layers=1, embedding_dim=4, dropout=0.0)
    rng = np.random.default_rng(seed)
    weights = tuple(rng.normal(scale=0.5, size=s).astype(np.float32) for s in weight_shapes(model))
    return ModelBundle.load(ModelBundle(model=model, encoding=BARS.config, vocab=vocab, weights=weights,
                                        info={"name": "bars"}).to_zip())


def test_a_bar_frame_model_writes_whole_bars():
    take = generate_traced(_tiny_bar_bundle(3), GenerateConfig(seed=4, length=60, tempo_bpm=120.0, max_chord=4),
                           trace_top=1)
    ends = [int(t.token[1:]) for t in take.trace if t.token.startswith("|")]
    assert len(ends) > 8
    for before, after in zip([0, *ends], ends):
        assert after == (before + 1) % 8 or (after == 0 and before == 5), (before, after)
    assert take.score.notes and min(n.start for n in take.score.notes) == 0  # no silence before the first note
    assert {"pickup_beats", "fermata_beats", "recipe"} <= set(take.score.metadata)  # for the sheet music


def test_a_bar_frame_model_harmonizes_a_melody_with_a_pickup_and_a_fermata():
    from neurotunes.harmonize import VOICES, harmonize, prepare_melody

    melody = _hymn_bit()
    chorale = harmonize(_tiny_bar_bundle(5), melody, seed=1)
    soprano = chorale.voice(VOICES[0])
    assert [(n.pitch, n.start) for n in soprano.notes] == [(n.pitch, n.start) for n in melody.notes]
    assert all(len(chorale.voice(v).notes) >= 1 for v in VOICES)
    # The chorale is printed in the melody's meter, with its pickup and fermatas.
    assert chorale.score.time_signature == (3, 4)
    assert chorale.score.metadata["pickup_beats"] == 2.0 and chorale.score.metadata["fermata_beats"] == [3.0]
    # The model hears the pickup's empty frames and the fermata: without the marks it writes other voices.
    unmarked = harmonize(_tiny_bar_bundle(5), melody.replace(metadata={}), seed=1)
    assert [chorale.voice(v).notes for v in VOICES[1:]] != [unmarked.voice(v).notes for v in VOICES[1:]]
    # The line a harmonizer forces keeps the melody's meter and marks, counted from its first note.
    late = melody.replace(notes=tuple(Note(start=n.start + 0.5, end=n.end + 0.5, pitch=n.pitch)
                                      for n in melody.notes))
    _, sung, _ = prepare_melody(late, 2)
    assert sung.time_signature == (3, 4)
    assert dict(sung.metadata) == {"pickup_beats": 3.0, "fermata_beats": [2.0]}
    assert BARS.lead_frames(sung) == 0 and BARS.fermata_frames(sung) == frozenset({4})


def test_notation_gives_a_piece_its_pickup_and_fermatas():
    from music21 import expressions, meter, note, stream

    from neurotunes.corpus import notation_to_scores

    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.append(meter.TimeSignature("4/4"))
    pickup.append(note.Note("G4", quarterLength=1))
    pickup.paddingLeft = 3.0
    part.append(pickup)
    full = stream.Measure(number=1)
    held = note.Note("C5", quarterLength=2)
    held.expressions.append(expressions.Fermata())
    full.append([note.Note("E4", quarterLength=2), held])
    part.append(full)
    data = stream.Score([part]).write("musicxml")
    with open(data, "rb") as f:
        piece = notation_to_scores(f.read(), name="pickup.musicxml")[0]
    assert piece.metadata["pickup_beats"] == 3.0 and piece.metadata["fermata_beats"] == [3.0]
