"""One Key value: reading every spelling, names, estimation, the shift to C major / A minor."""

import pytest

from neurotunes.errors import BadConfig, BadScore
from neurotunes.keys import PITCH_CLASS_NAMES, Key, estimate, piece_key
from neurotunes.midi_io import midi_to_score, score_to_midi
from neurotunes.score import Note, Score
from tests.conftest import make_score

ALL_KEYS = [Key(tonic, mode) for mode in ("major", "minor") for tonic in range(12)]


@pytest.mark.parametrize("text, key", [
    ("E- major", Key(3, "major")),  # music21's name
    ("e- minor", Key(3, "minor")),
    ("E-", Key(3, "major")),  # music21's tonic alone: upper case is major ...
    ("e-", Key(3, "minor")),  # ... lower case is minor
    ("Eb major", Key(3, "major")),
    ("Eb Major", Key(3, "major")),  # pretty_midi's name
    ("Db Major", Key(1, "major")),
    ("G# minor", Key(8, "minor")),
    ("E♭ major", Key(3, "major")),
    ("e minor", Key(4, "minor")),
    ("g minor", Key(7, "minor")),
    ("F#m", Key(6, "minor")),
    ("Bbm", Key(10, "minor")),
    ("Bb", Key(10, "major")),
    ("bb", Key(10, "minor")),
    ("Cmaj", Key(0, "major")),
    ("A min", Key(9, "minor")),
    ("C", Key(0, "major")),
    ("  F# Major ", Key(6, "major")),
    ("Cb major", Key(11, "major")),
    ("E# minor", Key(5, "minor")),
    ("B-- major", Key(9, "major")),
])
def test_parse_reads_every_spelling(text, key):
    assert Key.parse(text) == key


@pytest.mark.parametrize("text", ["nonsense words", "", "H major", "D dorian", "C major minor", "7", "Eb majr"])
def test_parse_refuses_nonsense_and_quotes_it(text):
    with pytest.raises(BadConfig, match="not a major or minor key") as err:
        Key.parse(text)
    assert repr(text) in str(err.value)


def test_bad_values_are_refused_with_what_was_given():
    with pytest.raises(BadConfig, match="got 12"):
        Key(12, "major")
    with pytest.raises(BadConfig, match="'dorian'"):
        Key(2, "dorian")
    with pytest.raises(BadConfig, match="got True"):
        Key(True, "major")
    with pytest.raises(BadConfig, match="got 3"):
        Key.parse(3)


def test_names_use_the_pitch_spelling_and_read_back():
    assert [k.name for k in ALL_KEYS[:12]] == [f"{name} major" for name in PITCH_CLASS_NAMES]
    assert Key(3, "major").name == str(Key(3, "major")) == "Eb major"
    assert Key(1, "minor").name == "C# minor"
    for key in ALL_KEYS:
        assert Key.parse(key.name) == key
        assert Key.parse(key.music21_name) == key
    assert Key(3, "major").music21_name == "E-" and Key(10, "minor").music21_name == "b-"


def test_music21_reads_our_music21_names():
    from music21 import key as m21key

    for key in ALL_KEYS:
        theirs = m21key.Key(key.music21_name)
        assert (theirs.tonic.pitchClass, theirs.mode) == (key.tonic, key.mode)


# dataset.key_shift's answers before keys.py existed (tonic 0..11), written down before the code moved.
OLD_KEY_SHIFT = {
    "major": [0, -1, -2, -3, -4, -5, 6, 5, 4, 3, 2, 1],
    "minor": [-3, -4, -5, 6, 5, 4, 3, 2, 1, 0, -1, -2],
}


def test_shift_to_reference_equals_the_old_key_shift_for_all_24_keys():
    for key in ALL_KEYS:
        assert key.shift_to_reference() == OLD_KEY_SHIFT[key.mode][key.tonic], key
        assert key.transpose(key.shift_to_reference()) in (Key(0, "major"), Key(9, "minor"))


def test_transpose_wraps_and_keeps_the_mode():
    assert Key(11, "minor").transpose(1) == Key(0, "minor")
    assert Key(0, "major").transpose(-1) == Key(11, "major")
    assert Key.parse("F#m").transpose(3).name == "A minor"


def test_a_score_holds_a_key_and_reads_old_text():
    score = make_score().replace(key="E- major")  # the form Score JSON and corpus caches held before
    assert score.key == Key(3, "major")
    assert Score.from_json(score.to_json()).key == Key(3, "major")
    assert score.to_dict()["key"] == "Eb major"
    assert Score.from_dict({"notes": [], "key": "g minor"}).key == Key(7, "minor")
    # JSON written before keys.py could hold a modal key from a file; it meant "no key we can use", and still does
    assert Score.from_dict({"notes": [], "key": "D dorian"}).key is None
    with pytest.raises(BadScore, match="got 5"):
        Score.from_dict({"notes": [], "key": 5})
    assert score.transpose(2).key == Key(5, "major")  # the key moves with the notes
    with pytest.raises(BadScore, match="'Q major'"):
        make_score().replace(key="Q major")
    with pytest.raises(BadScore, match="got 3"):
        make_score().replace(key=3)


def test_midi_key_signatures_round_trip_for_all_24_keys():
    for key in ALL_KEYS:
        back = midi_to_score(score_to_midi(make_score().replace(key=key)), name="k.mid")
        assert back.key == key


def test_estimate_and_piece_key():
    c_major = make_score(pitches=(60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60))
    assert estimate(c_major) == Key(0, "major")
    a_minor = make_score(pitches=(57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57))
    assert estimate(a_minor) == Key(9, "minor")
    assert estimate(Score()) is None
    chromatic = Score(notes=tuple(Note(start=i * 0.5, end=i * 0.5 + 0.5, pitch=60 + i) for i in range(12)))
    assert estimate(chromatic) is None  # every pitch class alike: no key to find
    assert piece_key(c_major) == Key(0, "major")
    assert piece_key(c_major.replace(key="F# minor")) == Key(6, "minor")  # the file's key wins


# metrics.estimate_key and metrics.piece_key on the first chorales of music21's bach corpus, before keys.py
# existed: (file, estimate, the key the file names). bwv102.7 is in G minor by its signature; the estimate hears C minor.
OLD_CHORALE_KEYS = [
    ("bwv1.6.mxl", Key(5, "major"), Key(5, "major")),
    ("bwv10.7.mxl", Key(7, "minor"), Key(7, "minor")),
    ("bwv101.7.mxl", Key(2, "minor"), Key(2, "minor")),
    ("bwv102.7.mxl", Key(0, "minor"), Key(7, "minor")),
    ("bwv103.6.mxl", Key(11, "minor"), Key(11, "minor")),
    ("bwv104.6.mxl", Key(9, "major"), Key(9, "major")),
]


@pytest.mark.slow
def test_estimates_on_real_chorales_equal_the_old_ones():
    from music21 import corpus

    from neurotunes.corpus import stream_to_score

    paths = {str(p).rsplit("/", 1)[-1]: p for p in corpus.getComposer("bach")}
    for name, estimated, named in OLD_CHORALE_KEYS:
        score = stream_to_score(corpus.parse(paths[name]), source=name)
        assert (estimate(score), score.key, piece_key(score)) == (estimated, named, named), name


@pytest.mark.slow
def test_key_estimate_agrees_with_music21():
    """Our NumPy Krumhansl-Kessler estimate against music21's own analyze('key') on real chorales."""
    from music21 import corpus

    from neurotunes.corpus import stream_to_score

    paths = corpus.getComposer("bach")[:12]
    agree = 0
    for path in paths:
        stream = corpus.parse(path)
        ours = estimate(stream_to_score(stream, source=str(path)))
        theirs = stream.analyze("key")
        agree += ours == Key(theirs.tonic.pitchClass, theirs.mode)
    assert agree >= 10, f"agreed on {agree} of {len(paths)}"


def test_a_modal_key_in_a_file_is_left_unknown_and_estimated():
    import music21

    from neurotunes.corpus import stream_to_score

    stream = music21.stream.Stream()
    stream.insert(0, music21.key.Key("d", "dorian"))
    for i, name in enumerate(["D4", "E4", "F4", "G4", "A4", "B4", "C5", "D5"]):
        stream.insert(i, music21.note.Note(name, quarterLength=1))
    score = stream_to_score(stream, source="dorian")
    assert score.key is None
    assert piece_key(score) == estimate(score) is not None
