"""Musical metrics on pieces whose answers are known, set comparisons, and whole evaluations."""

import numpy as np
import pytest

from neurotunes import metrics
from neurotunes.config import GenerateConfig
from neurotunes.errors import BadConfig
from neurotunes.keys import estimate
from neurotunes.score import Note, Score
from tests.conftest import make_score

BEAT = 0.5  # make_score's default tempo is 120 BPM


def chords(progression, *, beat=BEAT, tempo=120.0) -> Score:
    """One chord (a tuple of pitches) per beat."""
    notes = [Note(start=i * beat, end=(i + 1) * beat, pitch=p) for i, chord in enumerate(progression) for p in chord]
    return Score(notes=tuple(notes), tempo_bpm=tempo)


C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72)
CADENCE = [(48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71), (48, 64, 67, 72)]  # I IV V I in C


def test_interval_and_ioi_histograms():
    melody = make_score(pitches=(60, 62, 64, 60, 72), step=BEAT)
    hist = metrics.interval_histogram(melody)
    assert hist.sum() == pytest.approx(1.0)
    assert hist[12 + 2] == pytest.approx(0.5)  # two steps up by 2
    assert hist[12 - 4] == pytest.approx(0.25) and hist[12 + 12] == pytest.approx(0.25)
    ioi = metrics.ioi_histogram(melody)
    assert ioi[round(1.0 / metrics.IOI_STEP_BEATS) - 1] == pytest.approx(1.0)  # every onset a beat apart
    assert metrics.interval_histogram(Score()).sum() == 0
    # An inner voice moving under a held melody note is not a leap of the top line.
    held = Score(notes=(Note(start=0, end=2, pitch=72), Note(start=0, end=1, pitch=64), Note(start=1, end=2, pitch=65),
                        Note(start=2, end=3, pitch=74)))
    assert metrics.interval_histogram(held)[12 + 0] == pytest.approx(0.5)  # C5 held over the alto's step
    assert metrics.interval_histogram(held)[12 + 2] == pytest.approx(0.5)  # then up to D5


def test_polyphony_density_and_range():
    assert metrics.polyphony(chords(CADENCE)) == pytest.approx(4.0)
    half = Score(notes=(Note(start=0, end=2, pitch=60), Note(start=1, end=2, pitch=64)))
    assert metrics.polyphony(half) == pytest.approx(1.5)
    f = metrics.piece_features(chords(CADENCE))
    assert f["note_density"] == pytest.approx(4.0)  # four notes per beat
    assert f["pitch_range"] == 72 - 48
    assert metrics.polyphony(Score()) == 0.0


def test_scale_grid_and_harmony_tell_music_from_noise():
    scale = make_score(pitches=C_MAJOR, step=BEAT)
    assert metrics.in_scale_ratio(scale) == 1.0
    chromatic = make_score(pitches=tuple(range(60, 72)), step=BEAT)
    assert metrics.in_scale_ratio(chromatic) < 0.8
    assert metrics.on_grid_ratio(scale) == 1.0
    offbeat = make_score(pitches=C_MAJOR, step=BEAT * 1.5)  # every other note between beats
    assert metrics.on_grid_ratio(offbeat) == pytest.approx(0.5)
    assert metrics.harmonic_progression(chords(CADENCE)) == 1.0
    clusters = chords([(60, 61, 62), (62, 63, 64), (65, 66, 67), (60, 61, 62)])
    assert metrics.harmonic_progression(clusters) == 0.0
    assert metrics.harmonic_progression(scale) is None  # a melody has no chords to judge


def test_pitch_classes_are_measured_from_the_tonic():
    in_c = metrics.tonic_relative_histogram(make_score(pitches=C_MAJOR))
    in_d = metrics.tonic_relative_histogram(make_score(pitches=tuple(p + 2 for p in C_MAJOR)))
    np.testing.assert_allclose(in_c, in_d)
    assert estimate(make_score(pitches=tuple(p + 2 for p in C_MAJOR))).tonic == 2


def test_set_comparison_ranks_the_closer_set():
    rng = np.random.default_rng(0)
    reference = [{"x": float(v)} for v in rng.normal(0, 1, 40)]
    close = [{"x": float(v)} for v in rng.normal(0, 1, 40)]
    far = [{"x": float(v)} for v in rng.normal(4, 1, 40)]
    near_row, = metrics.compare_sets(close, reference, ["x"])
    far_row, = metrics.compare_sets(far, reference, ["x"])
    assert near_row.overlap > 0.8 and near_row.kl_divergence < 0.1
    assert far_row.overlap < 0.3 and far_row.kl_divergence > near_row.kl_divergence
    assert near_row.mean == pytest.approx(np.mean([r["x"] for r in close]))
    # identical values everywhere (zero spread) still compare, without a singular density
    same, = metrics.compare_sets([{"x": 1.0}] * 5, [{"x": 1.0}] * 5, ["x"])
    assert same.overlap > 0.99
    with pytest.raises(BadConfig, match="at least 2 reference pieces"):
        metrics.compare_sets(close, reference[:1], ["x"])


def test_piece_features_are_json_and_complete():
    import json

    f = metrics.piece_features(chords(CADENCE))
    json.dumps(f)
    assert set(metrics.DISTRIBUTION_FEATURES) <= set(f)
    assert len(f["pitch_class_histogram"]) == 12 and len(f["interval_histogram"]) == 25
    empty = metrics.piece_features(Score())
    assert empty["notes"] == 0 and empty["note_density"] == 0.0


def test_evaluation_of_a_real_model(tiny_bundle):
    from neurotunes.evaluate import closer_count, evaluate_models

    bundle, _ = tiny_bundle
    reference = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(24)), step=0.25, dur=0.25)
                 for k in (1, 2, 5)]
    seen = []
    result = evaluate_models({"tiny": bundle, "scales": [make_score(), make_score(pitches=C_MAJOR[::-1])],
                              "silent": [Score()]},
                             reference, samples=2, config=GenerateConfig(length=24),
                             on_progress=lambda name, done, total: seen.append((name, done, total)))
    tiny, scales, silent = result.models
    assert ("tiny", 2, 2) in seen
    assert len(tiny.features) == 2 and tiny.error is None
    assert [c.feature for c in tiny.comparisons] == list(metrics.DISTRIBUTION_FEATURES)
    assert all(0 <= c.overlap <= 1 and c.kl_divergence >= 0 for c in tiny.comparisons)
    assert tiny.model["nll_per_note"] > 0 and 0 <= tiny.model["pitch_accuracy"] <= 1
    assert silent.error == "silent produced no notes in 1 sample(s)" and not silent.comparisons
    assert 0 <= closer_count(tiny, scales) <= len(metrics.DISTRIBUTION_FEATURES)
    report = result.to_dict()
    assert report["reference"]["pieces"] == 3 and report["models"][0]["samples"] == 2
    # The page's tables: one row per feature (OA and KL per measured model, the closest), one per model.
    assert result.measured == [tiny, scales]
    table = result.distance_table(short=str.upper)
    assert [r["metric"] for r in table] == [metrics.FEATURE_LABELS[f] for f in metrics.DISTRIBUTION_FEATURES]
    first = tiny.comparisons[0]
    assert table[0]["TINY OA"] == round(first.overlap, 3) and table[0]["TINY KL"] == round(first.kl_divergence, 3)
    assert table[0]["closest"] in ("TINY", "SCALES") and "SILENT OA" not in table[0]
    models = result.model_table()
    assert [m["model"] for m in models] == ["tiny", "scales"]
    assert models[0]["NLL per note (nats)"] == tiny.model["nll_per_note"] and models[0]["pieces measured"] == 2


@pytest.mark.parametrize("samples", [0, 10_000])
def test_evaluation_caps_and_empty_references(tiny_bundle, samples):
    from neurotunes.evaluate import MAX_SAMPLES, evaluate_models

    bundle, _ = tiny_bundle
    reference = [make_score(), make_score(pitches=C_MAJOR[::-1])]
    with pytest.raises(BadConfig, match=f"1 to {MAX_SAMPLES} samples"):
        evaluate_models({"tiny": bundle}, reference, samples=samples)
    with pytest.raises(BadConfig, match="at least two pieces"):
        evaluate_models({"tiny": bundle}, [Score(), make_score()], samples=1)
    with pytest.raises(BadConfig, match="at least one model"):
        evaluate_models({}, reference, samples=1)


def test_classic_loop_is_argmax_on_half_beats():
    from neurotunes.config import ModelConfig, TrainConfig
    from neurotunes.dataset import split_dataset, token_stream
    from neurotunes.encodings import EncodingConfig
    from neurotunes.evaluate import classic_generate
    from neurotunes.training import train

    pieces = [chords(CADENCE * 6), chords([(60, 64, 67), (62, 65, 69)] * 12), make_score(pitches=C_MAJOR * 3)]
    ds = split_dataset(pieces, validation_fraction=0.0, encoding=EncodingConfig(name="classic"))
    bundle = train(ds, ModelConfig(units=16, layers=1, embedding_dim=8, dropout=0.0),
                   TrainConfig(epochs=2, batch_size=2, sequence_length=8, patience=0)).bundle
    window = token_stream(ds.train, bundle.encoding, bundle.vocab)[:20]
    a = classic_generate(bundle, window, 30, tempo_bpm=120.0)
    b = classic_generate(bundle, window, 30, tempo_bpm=120.0)
    assert a.notes == b.notes and len(a) >= 30  # argmax: no randomness at all
    assert all(abs(n.start / 0.25 - round(n.start / 0.25)) < 1e-9 for n in a.notes)  # half a beat apart
    from neurotunes.bundle import load_bundle

    with pytest.raises(BadConfig, match="classic encoding"):
        classic_generate(load_bundle("lstm"), window, 10)
