import numpy as np
import pytest

from neurotunes.config import GenerateConfig
from neurotunes.errors import BadConfig
from neurotunes.generate import RECIPE_KEY, generate, sample_from_logits
from tests.conftest import make_score


def test_same_seed_same_notes_other_seed_other_notes(tiny_bundle):
    bundle, _ = tiny_bundle
    a = generate(bundle, GenerateConfig(length=40, seed=5))
    b = generate(bundle, GenerateConfig(length=40, seed=5))
    c = generate(bundle, GenerateConfig(length=40, seed=6))
    assert a.notes == b.notes
    assert a.notes != c.notes
    assert len(a) == 40
    recipe = a.metadata[RECIPE_KEY]
    assert recipe["model_hash"] == bundle.hash
    assert recipe["settings"]["seed"] == 5


def test_settings_change_the_music(tiny_bundle):
    bundle, _ = tiny_bundle
    base = GenerateConfig(length=30, seed=1)
    out = generate(bundle, base)
    assert out.tempo_bpm == base.tempo_bpm
    organ = generate(bundle, GenerateConfig(length=30, seed=1, program=19, tempo_bpm=60))
    assert {n.program for n in organ.notes} == {19}
    assert organ.duration > out.duration  # slower tempo, same notes


def test_primer_is_kept_and_continued(tiny_bundle):
    bundle, _ = tiny_bundle
    primer = make_score(tempo=100.0)
    out = generate(bundle, GenerateConfig(length=10, seed=0, tempo_bpm=100.0), primer=primer)
    assert out.metadata["primer_notes"] == len(primer)
    assert len(out) == len(primer) + 10
    assert [n.pitch for n in out.notes[: len(primer)]] == [n.pitch for n in primer.notes]
    with pytest.raises(BadConfig, match="no pitched notes"):
        generate(bundle, GenerateConfig(length=5), primer=primer.with_notes([]))


def test_sampling_filters():
    rng = np.random.default_rng(0)
    logits = np.array([5.0, 4.0, 1.0, -3.0])
    draws = {sample_from_logits(logits, rng, top_k=2) for _ in range(200)}
    assert draws == {0, 1}
    draws = {sample_from_logits(logits, rng, top_p=0.5) for _ in range(100)}
    assert draws == {0}
    allowed = np.array([False, False, True, True])
    assert {sample_from_logits(logits, rng, allowed=allowed) for _ in range(100)} <= {2, 3}
    cold = [sample_from_logits(logits, rng, temperature=0.05) for _ in range(100)]
    assert set(cold) == {0}


def test_default_model_does_not_collapse():
    """The shipped model at temperature 1.0: no long runs of one pitch, several seeds."""
    from neurotunes.bundle import load_bundle

    bundle = load_bundle("lstm")
    for seed in range(4):
        score = generate(bundle, GenerateConfig(length=150, seed=seed))
        melody = [n.pitch for n in score.notes]
        longest, run = 1, 1
        for a, b in zip(melody, melody[1:]):
            run = run + 1 if a == b else 1
            longest = max(longest, run)
        assert longest < 16, f"seed {seed}: {longest} repeats"
        assert len(set(melody)) >= 8
        top_share = max(melody.count(p) for p in set(melody)) / len(melody)
        assert top_share < 0.3


@pytest.fixture(scope="module")
def default_bundle():
    from neurotunes.bundle import load_bundle

    return load_bundle("lstm")


def test_scale_lock_range_and_chord_cap(default_bundle):
    from neurotunes.config import SCALES

    cfg = GenerateConfig(length=80, seed=3, scale="minor pentatonic", key=9, pitch_low=50, pitch_high=80, max_chord=2)
    out = generate(default_bundle, cfg)
    assert {(n.pitch - 9) % 12 for n in out.notes} <= SCALES["minor pentatonic"]
    assert all(50 <= n.pitch <= 80 for n in out.notes)
    onsets = {}
    for n in out.notes:
        onsets[n.start] = onsets.get(n.start, 0) + 1
    assert max(onsets.values()) <= 2
    with pytest.raises(BadConfig, match="widen the range"):
        generate(default_bundle, GenerateConfig(pitch_low=0, pitch_high=10))


def test_density_and_seconds(default_bundle):
    sparse = [generate(default_bundle, GenerateConfig(length=80, seed=s, density=0.3)).duration for s in range(3)]
    dense = [generate(default_bundle, GenerateConfig(length=80, seed=s, density=3.0)).duration for s in range(3)]
    assert sum(dense) < 0.8 * sum(sparse)
    short = generate(default_bundle, GenerateConfig(length=2000, seconds=8.0, seed=1))
    assert len(short) < 2000 and max(n.start for n in short.notes) <= 8.0
    # The sparsest setting moves on in longer steps but still writes every note it was asked for.
    sparsest = generate(default_bundle, GenerateConfig(length=40, seed=0, density=0.1))
    assert len(sparsest) == 40 and sparsest.duration > max(sparse) / 80 * 40


def test_repetition_penalty_reduces_repeats(default_bundle):
    from neurotunes.metrics import repetition_stats

    def repeats(penalty):
        total = 0
        for seed in range(4):
            pitches = generate(default_bundle, GenerateConfig(length=120, seed=seed, repetition_penalty=penalty,
                                                              no_repeat_window=8)).pitch_list()
            total += sum(a == b for a, b in zip(pitches, pitches[1:]))
        return total

    assert repeats(4.0) < repeats(1.0)
    flat = make_score(pitches=(60,) * 20)
    assert repetition_stats(flat) == {"longest_run": 20, "top_pitch_share": 1.0, "distinct_pitches": 1,
                                      "collapsed": True}


def test_beam_search_is_deterministic_and_likely(default_bundle):
    from neurotunes.metrics import model_metrics

    beam = generate(default_bundle, GenerateConfig(length=30, beam_width=4, seed=1))
    assert beam.notes == generate(default_bundle, GenerateConfig(length=30, beam_width=4, seed=99)).notes
    assert len(beam) == 30
    sampled = generate(default_bundle, GenerateConfig(length=30, seed=1))
    assert model_metrics(default_bundle, [beam])["nll_per_note"] < model_metrics(default_bundle, [sampled])["nll_per_note"]


def test_beam_search_on_frames_writes_the_notes_asked_for_instead_of_holding_one_chord():
    """A frame model holds a note token by token at almost no cost: ranked by summed log-probability, the beam
    held its first chord until the time limit (4 notes in 7.8 s of music for 100 asked).  Per note it writes
    them all, and likelier music than a sampled take."""
    from neurotunes.bundle import load_bundle
    from neurotunes.generate import generate_traced
    from neurotunes.metrics import model_metrics

    frames = load_bundle("default")
    assert frames.encoding.name == "beat-frame"
    result = generate_traced(frames, GenerateConfig(length=60, beam_width=3, seed=1))
    assert len(result.score) == 60 and not result.warnings
    assert result.score.duration < 20.0  # about 4 notes a beat, as the chorales move
    sampled = generate(frames, GenerateConfig(length=60, seed=1))
    assert model_metrics(frames, [result.score])["nll_per_note"] < model_metrics(frames, [sampled])["nll_per_note"]


def test_density_makes_a_frame_model_busier_or_calmer():
    """Frames move time on one way only (the frame end), so density weighs holding a note against a new one;
    before, it reshaped the time shifts a frame model never chooses among, and changed nothing."""
    from neurotunes.bundle import load_bundle

    frames = load_bundle("default")

    def notes_per_beat(density: float) -> float:
        takes = [generate(frames, GenerateConfig(length=60, seed=seed, density=density)) for seed in (0, 1)]
        return sum(len(t.notes) for t in takes) / sum(t.duration / t.seconds_per_beat for t in takes)

    calm, plain, busy = notes_per_beat(0.5), notes_per_beat(1.0), notes_per_beat(2.0)
    assert calm < 0.8 * plain and busy > 1.25 * plain, (calm, plain, busy)


def test_variations_and_trace(default_bundle):
    from neurotunes.generate import compose, generate_traced

    takes = [t.score for t in compose(default_bundle, GenerateConfig(length=25, seed=10), count=3)]
    assert len({t.notes for t in takes}) == 3
    assert takes[1].notes == generate(default_bundle, GenerateConfig(length=25, seed=11)).notes
    for bad in (0, 9, True):
        with pytest.raises(BadConfig, match="ask for 1 to 8 takes"):
            compose(default_bundle, GenerateConfig(length=5), count=bad)
    assert compose(default_bundle, GenerateConfig(length=5), count=2, max_count=200)[0].trace == []
    traced = generate_traced(default_bundle, GenerateConfig(length=10, seed=2))
    assert traced.score.notes == generate(default_bundle, GenerateConfig(length=10, seed=2)).notes
    assert len(traced.trace) == traced.score.metadata["generated_tokens"]
    step = traced.trace[0]
    assert len(step.top_tokens) == 10 and step.top_probs == sorted(step.top_probs, reverse=True)
    assert 0 < sum(step.top_probs) <= 1.0 + 1e-9


def test_transpose_moves_the_same_take(tiny_bundle):
    bundle, _ = tiny_bundle
    here = generate(bundle, GenerateConfig(length=30, seed=2))
    up = generate(bundle, GenerateConfig(length=30, seed=2, transpose=3))
    assert [(n.pitch + 3, n.start, n.end) for n in here.notes] == [(n.pitch, n.start, n.end) for n in up.notes]
    for bad in (13, -13):
        with pytest.raises(BadConfig, match="transpose"):
            GenerateConfig(transpose=bad)
    with pytest.raises(BadConfig, match="leaves no pitch"):
        generate(bundle, GenerateConfig(length=5, pitch_low=0, pitch_high=5, transpose=12))


def test_key_normalized_model_keeps_the_primer_key(tiny_bundle):
    """A model trained in C major / A minor continues a D major primer in D major: the primer goes to C
    for the model and the whole take comes back up, exactly as if the primer had been in C."""
    from dataclasses import replace

    from neurotunes.generate import generate_traced

    bundle, _ = tiny_bundle
    dataset = bundle.info.dataset.with_values(key_normalized=True)
    normalized = replace(bundle, info=bundle.info.with_values(dataset=dataset))
    assert normalized.key_normalized and not bundle.key_normalized
    in_c = make_score(pitches=(60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60), step=0.25, dur=0.25, tempo=100.0)
    in_d = in_c.transpose(2).replace(key="D major")
    config = GenerateConfig(length=30, seed=4, tempo_bpm=100.0, scale="major", key=2)
    take = generate_traced(normalized, config, primer=in_d)
    reference = generate(bundle, replace(config, key=0), primer=in_c.replace(key="C major"))
    assert [(n.pitch, n.start) for n in take.score.notes] == [(n.pitch + 2, n.start) for n in reference.notes]
    primer_count = take.score.metadata["primer_notes"]
    assert [n.pitch for n in take.score.notes[:primer_count]] == [n.pitch for n in in_d.notes]
    assert all((n.pitch - 2) % 12 in (0, 2, 4, 5, 7, 9, 11) for n in take.score.notes[primer_count:])  # D major
    # "Why this note" names the notes as heard (in D), not as the model saw them (in C).
    generated = [n.pitch for n in take.score.notes[primer_count:]]
    traced = [int(t.token[5:]) for t in take.trace if t.token.startswith("NOTE_")]
    assert sorted(traced) == sorted(generated)


def test_a_model_that_only_waits_stops_at_the_time_cap(tiny_bundle, monkeypatch):
    """However a model behaves (here: it only ever moves time on), generation ends at the length cap."""
    import neurotunes.generate as G

    bundle, _ = tiny_bundle
    only_shifts = np.array([t.startswith("SHIFT_") for t in bundle.vocab.tokens])
    monkeypatch.setattr(G._Steering, "adjust", lambda self, logits, recent: (np.array(logits, float), only_shifts))
    monkeypatch.setattr(G.C, "MAX_GENERATE_SECONDS", 30.0)
    out = generate(bundle, GenerateConfig(length=50, seed=0))
    assert len(out) == 0 and out.metadata["generated_tokens"] > 0


# --- never unbounded: budgets and broken models -------------------------------------------------------
def _shipped_with(transform):
    """The shipped model with its weights changed by ``transform(list of arrays)`` (in memory, not loaded)."""
    from dataclasses import replace

    from neurotunes.bundle import load_bundle

    bundle = load_bundle("lstm")
    weights = [w.copy() for w in bundle.weights]
    transform(weights, bundle)
    return replace(bundle, weights=tuple(weights))


def _all_nan(weights, bundle):
    for w in weights:
        w[...] = np.nan


def test_a_bundle_with_nan_weights_is_refused_when_it_loads():
    from neurotunes.bundle import ModelBundle
    from neurotunes.errors import BadModel

    data = _shipped_with(_all_nan).to_zip()  # a real bundle file with a correct content hash
    with pytest.raises(BadModel, match="not finite"):
        ModelBundle.from_zip(data, name="nan.zip")


def test_nan_scores_stop_generation_with_a_message_at_once():
    """A model already in memory with NaN weights: the sampler used to pick the start token forever."""
    from neurotunes.errors import BadModel

    with pytest.raises(BadModel, match="not finite"):
        generate(_shipped_with(_all_nan), GenerateConfig(length=20))


def test_a_model_that_never_finishes_a_note_stops_with_a_message():
    """Every step a time shift (long rests for ever): no note in NO_PROGRESS_TOKENS steps is an error, not a hang."""
    from neurotunes.errors import BadModel

    def only_rests(weights, bundle):
        for i, token in enumerate(bundle.vocab.tokens):
            if token.startswith("SHIFT_"):
                weights[-1][i] += 1000.0

    with pytest.raises(BadModel, match="no note in"):
        generate(_shipped_with(only_rests), GenerateConfig(length=50))


def test_generation_stops_at_its_token_budget_and_says_so(monkeypatch):
    from neurotunes import constants as C
    from neurotunes.bundle import load_bundle
    from neurotunes.generate import generate_traced

    monkeypatch.setattr(C, "MAX_TOKENS_PER_NOTE", 1)  # a note costs 2+ event tokens: the budget ends first
    monkeypatch.setattr(C, "GENERATE_TOKEN_SLACK", 0)
    result = generate_traced(load_bundle("lstm"), GenerateConfig(length=60))
    assert 0 < len(result.score) < 60
    assert result.warnings and "budget of 60 steps" in result.warnings[0]
    assert result.score.metadata["stopped_early"] == result.warnings[0]


def test_beam_search_stops_at_its_time_budget_and_says_so(monkeypatch):
    import time

    from neurotunes import constants as C
    from neurotunes.bundle import load_bundle
    from neurotunes.generate import generate_traced

    bundle = load_bundle("lstm")
    monkeypatch.setattr(C, "MAX_GENERATE_WALL_SECONDS", 0.3)
    start = time.monotonic()
    result = generate_traced(bundle, GenerateConfig(length=2000, beam_width=16))
    assert time.monotonic() - start < 3.0
    assert 0 < len(result.score) < 2000
    assert "time limit of 0.3 s" in result.warnings[0]
    # A take that finishes in time carries no warning.
    assert generate_traced(bundle, GenerateConfig(length=30)).warnings == []


def test_beam_search_applies_the_temperature(default_bundle):
    """Beam search ranks with softmax(logits / T), the distribution sampling draws from: near T = 0 it
    follows the likeliest token at every step (as top-k 1 does), at T = 1 it finds a likelier whole take."""
    notes = lambda s: [(n.pitch, round(n.start, 6)) for n in s.notes]  # noqa: E731
    greedy = notes(generate(default_bundle, GenerateConfig(length=30, top_k=1, seed=1)))
    cold = notes(generate(default_bundle, GenerateConfig(length=30, beam_width=4, temperature=0.05)))
    warm = notes(generate(default_bundle, GenerateConfig(length=30, beam_width=4, temperature=1.0)))
    assert cold == greedy
    assert warm != greedy


def test_why_this_note_shows_what_the_sampler_drew_from(default_bundle):
    """The trace holds the probabilities after temperature, masks, top-k and top-p: with top-k 3 at
    most three choices, summing to 1, the chosen one among them."""
    from neurotunes.generate import generate_traced, sampling_distribution

    take = generate_traced(default_bundle, GenerateConfig(length=20, top_k=3, seed=2))
    assert take.trace and all(len(s.top_tokens) <= 3 for s in take.trace)
    assert all(abs(sum(s.top_probs) - 1.0) < 1e-9 and s.token in s.top_tokens for s in take.trace)
    nucleus = generate_traced(default_bundle, GenerateConfig(length=20, top_p=0.5, seed=2))
    assert any(len(s.top_tokens) < 10 for s in nucleus.trace)
    p = sampling_distribution(np.array([2.0, 1.0, 0.0, -1.0]), temperature=0.5, top_k=2)
    assert p[2] == p[3] == 0 and abs(p.sum() - 1) < 1e-12 and p[0] > p[1]


# --- the fast paths compute the plain formulas, bit for bit ---------------------------------------------
def _random_stepper_pair(arch: str):
    from neurotunes import models
    from neurotunes.config import ModelConfig
    from neurotunes.encodings import EncodingConfig, encoding_for
    from neurotunes.models.recurrent import RecurrentStepper

    cfg = ModelConfig(arch=arch, vocab_size=len(encoding_for(EncodingConfig()).vocabulary()),
                      units=12, layers=3, embedding_dim=6, context=8)
    rng = np.random.default_rng(5)
    weights = [(rng.standard_normal(s) * 0.5).astype(np.float32) for s in models.weight_shapes(cfg)]
    architecture = models.get(arch)
    # The generic stack: LSTMCell.step, one layer after another, new arrays at every step.
    return cfg, weights, architecture.stepper(cfg, weights), RecurrentStepper(architecture.cell, cfg, weights)


def test_the_lstm_stepper_equals_the_cell_by_cell_stack_bit_for_bit():
    cfg, _, fast, plain = _random_stepper_pair("lstm")
    ids = [int(t) for t in np.random.default_rng(6).integers(0, cfg.vocab_size, 50)]
    for t in ids[:30]:
        assert np.array_equal(fast.step(t), plain.step(t))
    saved = fast.state()
    for t in ids[30:]:
        fast.step(t)
    fast.set_state(saved)
    for t in ids[30:]:
        assert np.array_equal(fast.step(t), plain.step(t))


def test_the_attention_stepper_equals_the_plain_formulas_bit_for_bit():
    """lstm_attention's stepper (LSTM inlined on buffers, gates reordered, a rolling key cache) gives exactly
    the floats of the generic LSTM stack plus attention over the stacked outputs, through a restored state."""
    cfg, weights, fast, plain = _random_stepper_pair("lstm_attention")
    scale, memory = float(weights[-3]), []

    def plain_step(token):
        x = plain.stack_output(token)
        memory.append(x)
        del memory[: -cfg.context]
        keys = np.stack(memory)
        scores = scale * (keys @ x)
        w = np.exp(scores - scores.max())
        return np.concatenate([x, (w / w.sum()) @ keys]) @ plain.dense_w + plain.dense_b

    ids = [int(t) for t in np.random.default_rng(6).integers(0, cfg.vocab_size, 70)]  # the key cache wraps
    for t in ids[:40]:
        assert np.array_equal(fast.step(t), plain_step(t))
    saved = fast.state()
    for t in ids[40:]:
        fast.step(t)
    fast.set_state(saved)
    for t in ids[40:]:
        assert np.array_equal(fast.step(t), plain_step(t))


@pytest.mark.parametrize("settings", [{}, {"temperature": 0.7}, {"top_k": 3}, {"top_p": 0.6, "temperature": 1.3}])
def test_sampling_distribution_is_the_plain_formula_and_leaves_its_input_alone(settings):
    from neurotunes.generate import sampling_distribution

    rng = np.random.default_rng(0)
    logits = rng.standard_normal(40).astype(np.float32)
    allowed = rng.random(40) > 0.3
    before = logits.copy()
    got = sampling_distribution(logits, allowed=allowed, **settings)
    assert np.array_equal(logits, before)
    z = np.asarray(logits, dtype=np.float64) / settings.get("temperature", 1.0)
    z = np.where(allowed, z, -np.inf)
    p = np.exp(z - np.max(z))
    p /= p.sum()
    if settings.get("top_k"):
        p = np.where(p >= np.partition(p, -settings["top_k"])[-settings["top_k"]], p, 0.0)
    if settings.get("top_p"):
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, settings["top_p"] * cum[-1])) + 1]
        p = np.where(np.isin(np.arange(40), keep), p, 0.0)
    assert np.array_equal(got, p / p.sum())
    assert got[~allowed].sum() == 0 and abs(got.sum() - 1) < 1e-12



# --- pitch top-p: the nucleus over the pitch choice only ------------------------------------------------------
def test_pitch_top_p_cuts_unlikely_pitches_and_leaves_every_other_choice_its_chance():
    from neurotunes.generate import _pitch_nucleus

    p = np.array([0.50, 0.20, 0.12, 0.08, 0.06, 0.04])  # a hold and an end, then four pitches
    pitched = np.array([False, False, True, True, True, True])
    out = _pitch_nucleus(p.copy(), pitched, 0.6)
    assert out[0] == 0.50 and out[1] == 0.20  # holding a note or ending the frame: the model's own chance
    assert abs(out[pitched].sum() - 0.30) < 1e-12  # a new note as likely as before...
    assert out[4] == out[5] == 0 and out[2] > 0.12 and out[3] > 0.08  # ...but only among the likeliest pitches
    assert abs(out[2] / out[3] - 0.12 / 0.08) < 1e-12 and abs(out.sum() - 1) < 1e-12
    assert np.array_equal(_pitch_nucleus(p.copy(), pitched, 1.0), p)  # 1: nothing cut
    assert np.count_nonzero(_pitch_nucleus(p.copy(), pitched, 0.01)[pitched]) == 1  # at least one pitch kept


def test_pitch_top_p_on_the_four_voice_model_reproduces_and_changes_only_what_it_should():
    from neurotunes.bundle import load_bundle

    bundle = load_bundle("default")
    plain = generate(bundle, GenerateConfig(length=60, seed=2))
    assert generate(bundle, GenerateConfig(length=60, seed=2, pitch_top_p=1.0)).notes == plain.notes
    cleaner = generate(bundle, GenerateConfig(length=60, seed=2, pitch_top_p=0.5))
    assert cleaner.notes != plain.notes and len(cleaner.notes) == 60
    assert generate(bundle, GenerateConfig(length=60, seed=2, pitch_top_p=0.5)).notes == cleaner.notes
    assert cleaner.metadata["recipe"]["settings"]["pitch_top_p"] == 0.5
