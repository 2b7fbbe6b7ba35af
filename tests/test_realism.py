"""Realism: the diatonic-seventh fit on hand-made chords, divergences, the real range and the classifier on real
Bach chorales (music21's corpus) against sets of random notes."""

import math

import numpy as np
import pytest

from neurotunes import realism
from neurotunes.errors import BadConfig
from neurotunes.keys import Key
from neurotunes.score import Note, Score
from tests.conftest import make_score

C_MAJOR, A_MINOR = Key(0, "major"), Key(9, "minor")


def struck(*chords, beat=0.5) -> Score:
    """One chord (a tuple of MIDI pitches) struck per beat."""
    return Score(notes=tuple(Note(start=i * beat, end=(i + 1) * beat, pitch=p)
                             for i, chord in enumerate(chords) for p in chord))


def random_notes(count: int, seed: int, notes: int = 200) -> list[Score]:
    """Pieces of random pitches (any of 48), random onsets on the 1/16 grid and random lengths: not music."""
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(count):
        starts = np.cumsum(rng.choice([0, 0.125, 0.25, 0.375, 0.75], notes))
        lengths = rng.choice([0.125, 0.25, 0.5, 1.0, 2.0], notes)
        pieces.append(Score(notes=tuple(Note(start=float(s), end=float(s + d), pitch=int(p)) for s, d, p in
                                        zip(starts, lengths, rng.integers(36, 84, notes))), tempo_bpm=120.0))
    return pieces


@pytest.fixture(scope="module")
def chorales():
    """60 real chorales from music21's corpus (shuffled: the corpus is in catalogue order), measured on their
    first 120 notes: held out (20), pool (40)."""
    from neurotunes.corpus import load_corpus

    pieces = load_corpus("bach", limit=60)
    assert len(pieces) == 60
    pieces = [pieces[i] for i in np.random.default_rng(0).permutation(len(pieces))]
    return realism.measure_set(pieces[:20], 120), realism.measure_set(pieces[20:], 120)


def test_diatonic_seventh_fit_on_hand_made_chords():
    assert realism.fits_diatonic_seventh({0, 4, 7, 11}, C_MAJOR)  # C E G B: I7
    assert not realism.fits_diatonic_seventh({0, 4, 8}, C_MAJOR)  # C E G#: no chord of C major
    assert realism.fits_diatonic_seventh({2, 5, 9, 0}, C_MAJOR)  # D F A C: ii7
    assert realism.fits_diatonic_seventh({7, 11, 2}, C_MAJOR)  # G B D: V, a triad inside V7
    assert not realism.fits_diatonic_seventh({0, 2, 4}, C_MAJOR)  # C D E: all in the scale, but no chord
    assert realism.fits_diatonic_seventh({8, 11, 2}, A_MINOR)  # G# B D: V7 of A harmonic minor
    assert realism.fits_diatonic_seventh({7, 11, 2}, A_MINOR)  # G B D: VII of A natural minor
    assert not realism.fits_diatonic_seventh({1, 4, 7}, A_MINOR)  # C# E G: no degree of A minor
    assert not realism.fits_diatonic_seventh({0, 4, 7, 11}, Key(2))  # C E G B is not in D major
    assert realism.fits_diatonic_seventh({2, 6, 9, 1}, Key(2))  # D F# A C#: I7 of D major
    assert len(realism.diatonic_seventh_masks(C_MAJOR)) == 7 and len(realism.diatonic_seventh_masks(A_MINOR)) == 11


def test_diatonic_chord_share_counts_struck_chords_only():
    cadence = struck((48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71), (48, 64, 67, 72))  # I IV V I in C
    assert realism.diatonic_chord_counts(cadence, C_MAJOR) == (4, 4)
    assert realism.diatonic_chord_share(cadence) == 1.0  # the estimated key, C major
    odd = struck((60, 64, 68), (60, 64, 67), (62, 65, 69, 72))  # C E G#, C E G, D F A C
    assert realism.diatonic_chord_counts(odd, C_MAJOR) == (2, 3)
    # A passing F struck alone over a held C major chord is not a chord onset.
    held = Score(notes=(Note(0, 2, 48), Note(0, 2, 64), Note(0, 2, 67), Note(1, 2, 65)))
    assert realism.diatonic_chord_counts(held, C_MAJOR) == (1, 1)
    assert realism.diatonic_chord_share(make_score()) is None  # a melody has no chords


def test_per_piece_measures_and_cutting():
    scale = make_score(pitches=(60, 62, 64, 65, 67, 69, 71, 72), step=0.5, dur=0.5)  # quarter notes at 120 BPM
    m = realism.piece_measures(scale)
    assert m["pitch_histogram"][60] == pytest.approx(1 / 8) and m["pitch_histogram"].sum() == pytest.approx(1)
    assert m["duration_histogram"][round(1 / realism.DURATION_STEP_BEATS) - 1] == 1.0  # every note one beat
    assert m["note_density"] == pytest.approx(1.0) and m["polyphony"] == pytest.approx(1.0)
    assert m["in_scale_ratio"] == 1.0 and math.isnan(m["diatonic_chord_share"])
    assert m["pitch_class_histogram"][0] == pytest.approx(2 / 8)  # the tonic (C, twice) first
    cut = realism.first_notes(scale, 3)
    assert cut.pitch_list() == [60, 62, 64]
    assert realism.first_notes(scale, 100) is scale
    with pytest.raises(BadConfig, match="no pieces with notes"):
        realism.measure_set([Score()])


def test_divergences_are_zero_for_identical_sets_and_positive_otherwise(chorales):
    held_out, pool = chorales
    noise = realism.measure_set(random_notes(10, seed=1), 120)
    for measure in realism.MEASURES:
        assert realism.set_divergence(held_out, held_out, measure) == 0.0, measure
        assert realism.set_divergence(noise, held_out, measure) > 0.0, measure
    p = np.array([0.5, 0.5, 0.0])
    assert realism.js_divergence(p, p) == 0.0
    assert realism.js_divergence(p, np.array([0.0, 0.0, 1.0])) == pytest.approx(1.0)  # disjoint: the maximum
    assert realism.wasserstein(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(1.0)
    assert realism.wasserstein(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0])) == pytest.approx(1 / 3)


def test_a_real_set_passes_its_bars_and_random_notes_do_not(chorales):
    held_out, pool = chorales
    picked = np.random.default_rng(0).choice(len(pool), 10, replace=False)
    real = realism.judge(pool.subset(picked), held_out, pool.exclude(picked))
    assert len(real.applicable) == 9 and all(len(m.real) == realism.REAL_SETS for m in real.measures)
    # Bars at 1.25 x the 95th percentile: a real set misses one of nine now and then, never several; and sets
    # of 10 short pieces vary more than the 30 x 200 notes, for which the 0.05 chord-share rule is made.
    assert real.inside_count >= 8, real.rows()
    assert real.chord_share == pytest.approx(real.reference_chord_share, abs=0.1)
    assert real.classifier_accuracy < 0.7 and real.real_vs_real_accuracy < 0.7
    noise = realism.judge(realism.measure_set(random_notes(10, seed=2), 120), held_out, pool)
    assert noise.inside_count <= 3 and not noise.passes, noise.rows()
    assert noise.chord_share < 0.5 and not noise.chord_share_close
    assert noise.classifier_accuracy > 0.9
    assert "passes for Bach on" in noise.verdict("Bach") and "a classifier spots it" in noise.verdict("Bach")
    assert noise.to_dict()["measures"]["pitch_histogram"]["inside"] is False


def test_the_classifier_tells_noise_from_chorales_but_not_chorales_from_chorales(chorales):
    held_out, pool = chorales
    noise = realism.measure_set(random_notes(20, seed=3), 120)
    assert realism.classifier_accuracy(noise, held_out) > 0.9
    halves = realism.classifier_accuracy(pool.subset(range(20)), pool.subset(range(20, 40)))
    assert halves < 0.75
    assert realism.classifier_accuracy(pool.subset([0]), held_out) is None  # one piece: nothing to cross-validate


def test_evaluation_reports_realism_beside_each_model():
    from neurotunes.corpus import load_corpus
    from neurotunes.evaluate import evaluate_models

    pieces = load_corpus("bach", limit=30)  # evaluate_models also runs music21's harmony on the reference
    evaluation = evaluate_models({"noise": random_notes(6, seed=4, notes=80)}, pieces[:6], samples=6,
                                 pool=pieces[6:], corpus_name="Bach")
    report = evaluation.models[0].realism
    assert report is not None and report.notes == 80 and report.pieces == 6
    (name, verdict, passes), = evaluation.verdicts()
    assert name == "noise" and verdict.startswith("passes for Bach on") and not passes
    table = evaluation.realism_table()
    assert len(table) == len(realism.MEASURES) and {"noise x real", "noise inside"} <= set(table[0])
    row = evaluation.model_table()[0]
    assert row["classifier spots it"] > 0.9 and row["real vs real"] < 0.8
    assert evaluation.to_dict()["models"][0]["realism"]["passes"] is False
    # Without the training side there is no real range to judge by.
    assert evaluate_models({"noise": random_notes(2, seed=5)}, pieces[:2], samples=2).models[0].realism is None
