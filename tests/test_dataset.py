"""Dataset sources (files, archives, notation), normalization and statistics."""

import pytest

from neurotunes.dataset import (MAX_ZIP_FILES, build_dataset, normalize_key, normalize_tempo, scores_from_files,
                                split_dataset)
from neurotunes.keys import Key
from neurotunes.midi_io import score_to_midi
from neurotunes.score import Note, Score
from tests.conftest import make_score, make_zip

ABC = b"X:1\nT:Jig\nM:6/8\nL:1/8\nK:D\nDFA dAF|GBd gdB|\nX:2\nT:Reel\nM:4/4\nL:1/8\nK:G\nGABc dedB|\n"



def test_midi_abc_and_zip_sources_with_bad_files_skipped():
    midi = score_to_midi(make_score())
    archive = make_zip({"a/one.mid": midi, "a/tunes.abc": ABC, "a/broken.mid": b"MThd junk", "__MACOSX/._one.mid": b"x",
                    "notes.txt": b"hello"})
    errors: list[str] = []
    scores = scores_from_files([("x.mid", midi), ("set.zip", archive), ("readme.pdf", b"%PDF"),
                                ("empty.zip", make_zip({})), ("fake.zip", b"not a zip")], errors)
    sources = sorted(s.metadata["source"] for s in scores)
    assert sources == ["set.zip/a/one.mid", "set.zip/a/tunes.abc#1", "set.zip/a/tunes.abc#2", "x.mid"]
    text = "\n".join(errors)
    assert "set.zip/a/broken.mid" in text
    assert "readme.pdf: unsupported file type" in text
    assert "empty.zip is an empty archive" in text
    assert "fake.zip is not a valid .zip archive" in text
    assert len(errors) == 4


def test_archive_with_too_many_files_is_refused():
    many = make_zip({f"f{i}.mid": b"" for i in range(MAX_ZIP_FILES + 1)})
    errors: list[str] = []
    assert scores_from_files([("huge.zip", many)], errors) == []
    assert f"at most {MAX_ZIP_FILES:,}" in errors[0]


def test_key_and_tempo_normalization():
    d_major = make_score(pitches=(62, 64, 66, 67, 69, 71, 73, 74)).replace(key="D major")
    moved = normalize_key(d_major)
    assert moved.notes[0].pitch == 60 and moved.key == Key(0, "major")
    e_minor = make_score(pitches=(64, 66, 67, 69, 71, 72, 75, 76)).replace(key="e minor")
    assert normalize_key(e_minor).notes[0].pitch == 69  # E -> A: up a fourth beats down a fifth
    assert normalize_key(e_minor).key == Key(9, "minor")
    unnamed = make_score(pitches=(62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62))  # no key in the file: estimated
    assert normalize_key(unnamed).notes[0].pitch == 60 and normalize_key(unnamed).key == Key(0, "major")
    assert normalize_key(Score()) == Score()
    recorded = make_score().with_metadata(estimated_tempo_bpm=150.0)
    assert normalize_tempo(recorded).tempo_bpm == 150.0
    assert normalize_tempo(recorded).notes == recorded.notes  # times unchanged: only the beat grid moves
    assert normalize_tempo(make_score()).tempo_bpm == 120.0


def test_split_drops_drums_and_reports_histograms():
    drums = Score(notes=(Note(start=0, end=0.1, pitch=36, is_drum=True),))
    pieces = [make_score(pitches=(60 + i, 64, 67)) for i in range(4)] + [drums]
    ds = split_dataset(pieces, validation_fraction=0.25, key_normalization=True)
    assert len(ds.train) + len(ds.validation) == 4
    hists = ds.histograms()
    assert sum(hists["pitch"].values()) == 12
    assert set(hists["duration_steps"]) == {4}  # 0.45 s at 120 BPM: about a quarter note = 4 steps
    assert sum(hists["key"].values()) == 4
    assert set(hists["key"]) <= {"C major", "A minor"}  # normalized, named as the app shows keys


def test_build_dataset_gathers_every_source_and_names_what_it_skipped():
    import pytest

    from neurotunes.errors import DatasetError

    skipped: list[str] = []
    accepted = [make_score(), make_score(pitches=(62, 64, 65))]
    files = [("tune.mid", score_to_midi(make_score(pitches=(67, 69, 71)))), ("broken.mid", b"not midi")]
    dataset = build_dataset(accepted=accepted, files=files, skipped=skipped, validation_fraction=0.0)
    assert len(dataset.train) == 3 and dataset.description == "2 transcriptions, 1 uploaded pieces"
    assert len(skipped) == 1 and "broken.mid" in skipped[0]
    with pytest.raises(DatasetError, match="choose at least one source"):
        build_dataset()
    with pytest.raises(DatasetError, match=r"none of the chosen sources could be read \(1 file"):
        build_dataset(files=[("broken.mid", b"not midi")])


def test_a_recipe_can_leave_out_the_reference_sets_held_out_pieces():
    from neurotunes.corpus import held_out_sources
    from neurotunes.dataset import CorpusRecipe

    held_out = held_out_sources("bach")
    plain = CorpusRecipe("bach", limit=12, validation_fraction=0.25).build()
    plain_sources = {s.metadata["source"] for s in plain.train + plain.validation}
    assert plain_sources & held_out, "the first 12 chorales hold no held-out piece: the check below proves nothing"
    recipe = CorpusRecipe("bach", limit=12, validation_fraction=0.25, skip_held_out=True)
    dataset = CorpusRecipe.from_dict(recipe.to_dict()).build()  # as the training process receives it
    sources = {s.metadata["source"] for s in dataset.train + dataset.validation}
    assert len(sources) == 12 and not sources & held_out
    assert "held-out" in dataset.description


@pytest.mark.slow
def test_the_shipped_held_out_list_is_the_reference_split():
    """assets/held_out.json must name exactly the pieces the reference split holds out (scripts/held_out.py)."""
    from neurotunes.corpus import held_out_sources, load_corpus
    from neurotunes.dataset import REFERENCE_SPLIT_SEED, REFERENCE_VALIDATION_FRACTION

    split = split_dataset(load_corpus("bach"), validation_fraction=REFERENCE_VALIDATION_FRACTION,
                          seed=REFERENCE_SPLIT_SEED)
    assert {s.metadata["source"] for s in split.validation} == held_out_sources("bach")
