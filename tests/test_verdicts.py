"""Honest verdicts and waits with a face: Train says whether a run learned (and leaves the Generate page's
model alone until asked), Evaluate ends in a plain verdict against the music the model learned with progress
that counts pieces, Transcribe checks by ear with one A/B switch, and corpora count piece by piece."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.ui import state
from tests.conftest import ROOT, make_score

pytestmark = pytest.mark.slow
APP = str(ROOT / "app.py")


def _page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page(f"app_pages/{name}.py")
    return at.run()


def _wait(condition, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


# --- Train: did it learn? ------------------------------------------------------------------------------------
def _metrics(loss, per_note, accuracy):
    from neurotunes.bundle import BundleMetrics

    epochs = len(accuracy)
    return BundleMetrics(history={"loss": [3.0] * epochs, "val_loss": [loss] * epochs, "val_accuracy": accuracy},
                         best_val_loss_per_token=loss, val_nll_per_note=per_note, val_accuracy=accuracy[-1])


def test_a_run_is_judged_against_chance_and_its_accuracy_curve():
    from neurotunes.bundle import BundleMetrics
    from neurotunes.evaluate import learning_verdict

    learned = learning_verdict(_metrics(2.0, 4.0, [0.30, 0.40]), 4.0)
    assert learned.learned and learned.message == "Learned: it predicts the next note better than chance by 50%."
    assert (learned.nll_per_note, learned.chance_per_note) == (4.0, 8.0)  # chance in the same unit: per note
    chance = learning_verdict(_metrics(4.1, 8.2, [0.30, 0.40]), 4.0)
    assert not chance.learned
    assert chance.message == "Still learning: keep training (it is no better than chance yet)."
    fell = learning_verdict(_metrics(2.0, 4.0, [0.40, 0.45, 0.38]), 4.0)
    assert not fell.learned and fell.message.startswith("Still learning: keep training (")
    assert "fell from 40.0% to 38.0%" in fell.message
    # A resumed run is judged on its own epochs: here its accuracy rose from 30% to 35%.
    assert learning_verdict(_metrics(2.0, 4.0, [0.5, 0.3, 0.31, 0.35]), 4.0, first_epoch=1).learned
    assert learning_verdict(BundleMetrics(history={"loss": [2.0]}), None) is None  # nothing measured to judge by


def test_chance_is_the_surprise_of_the_training_pieces_token_frequencies():
    from neurotunes.encodings import encoding_for
    from neurotunes.evaluate import chance_nll_per_token
    from tests.test_bundle import _small_bundle

    bundle = _small_bundle()
    encoding, vocab = encoding_for(bundle.encoding), bundle.vocab
    train = [make_score(pitches=(60, 62, 60, 64, 60)), make_score(pitches=(60, 60, 67))]
    validation = [make_score(pitches=(60, 62, 64))]
    counts = np.ones(len(vocab))
    for s in train:
        for t in vocab.encode(encoding.encode(s)):
            counts[t] += 1
    target = vocab.encode(encoding.encode(validation[0]))[1:]
    expected = -np.mean(np.log(counts[target] / counts.sum()))
    assert chance_nll_per_token(train, validation, bundle) == pytest.approx(expected)
    assert chance_nll_per_token(train, validation, bundle) < math.log(len(vocab))  # beats a uniform guess
    assert chance_nll_per_token(train, [], bundle) is None


def test_a_run_no_better_than_chance_says_so_and_generate_keeps_its_model():
    """A real run (a child process, 1 epoch of a tiny model on random notes) cannot beat chance: the page says
    "Still learning" instead of "Finished" and the Generate page keeps the shipped model until asked."""
    from neurotunes.config import TrainConfig
    from neurotunes.dataset import split_dataset
    from neurotunes.ui.jobs import TrainingJob
    from tests.test_jobs import TINY_MODEL

    rng = np.random.default_rng(3)
    pieces = [make_score(pitches=tuple(int(p) for p in rng.integers(48, 84, 40)), step=0.25, dur=0.25)
              for _ in range(6)]
    dataset = split_dataset(pieces, validation_fraction=0.34, seed=0, description="random notes")
    at = _page("train")
    job = TrainingJob(dataset, TINY_MODEL, TrainConfig(epochs=1, batch_size=4, sequence_length=16, patience=0),
                      name="noise").start()
    at.session_state[state.TRAIN_JOB] = job
    _wait(lambda: not job.active)
    assert job.status == "done", job.error
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("Still learning: keep training (it is no better than chance yet).") for w in warnings), \
        warnings
    assert not any("Finished" in w for w in warnings + [s.value for s in at.success])
    assert any("a model that knows nothing" in w for w in warnings)
    assert job.chance_nll_per_token < job.result.metrics.best_val_loss_per_token
    key = job.model_key
    assert key in at.session_state[state.TRAINED_MODELS]
    assert at.session_state[state.ACTIVE_MODEL] == state.DEFAULT_MODEL  # Generate keeps the shipped model ...
    at.button(key=state.item_key(state.TRAIN_USE_MODEL, "run")).click().run()  # ... until asked
    assert at.session_state[state.ACTIVE_MODEL] == key
    assert any(key in t.value and "Generate page now uses" in t.value for t in at.toast)
    assert any("The Generate page uses this model" in c.value for c in at.caption)
    assert any("surprise per note" in m.value for m in at.markdown)


def test_a_run_that_learned_says_by_how_much_in_words():
    from neurotunes.bundle import ModelBundle
    from neurotunes.config import TrainConfig
    from neurotunes.ui.jobs import TrainingJob
    from tests.test_bundle import _small_bundle
    from tests.test_jobs import TINY_MODEL, tiny_dataset

    bundle = dataclasses.replace(_small_bundle(), metrics=_metrics(1.5, 3.0, [0.2, 0.3]))
    job = TrainingJob(tiny_dataset(), TINY_MODEL, TrainConfig(patience=0), name="learner")
    assert not job._handle(("chance", 4.5))
    assert job._handle(("done", ModelBundle.from_files(bundle.to_files()).to_files(), bundle.metrics.curves,
                        None, None))
    at = _page("train")
    at.session_state[state.TRAIN_JOB] = job
    at.run()
    assert not at.exception
    said = [s.value for s in at.success]
    assert any(s.startswith("Learned: it predicts the next note better than chance by 67%.") for s in said), said
    assert any("Surprise per note on pieces it never saw: 3.00 (lower is better; a model that knows nothing: 9.00)"
               in s for s in said), said
    assert at.session_state[state.ACTIVE_MODEL] == state.DEFAULT_MODEL
    # The models list has its own "Use this model" for every model.
    at.button(key=state.item_key(state.TRAIN_USE_MODEL, job.model_key)).click().run()
    assert at.session_state[state.ACTIVE_MODEL] == job.model_key


# --- Evaluate: like with like, measured once, a plain verdict ---------------------------------------------------
def test_evaluate_compares_each_model_with_the_music_it_learned():
    at = _page("evaluate")
    assert at.multiselect(key=state.EVALUATE_MODELS).value == ["default"]
    assert at.radio(key=state.EVALUATE_REFERENCE).value == "bach"
    at.multiselect(key=state.EVALUATE_MODELS).set_value(["fiddle"]).run()
    assert at.radio(key=state.EVALUATE_REFERENCE).value == "fiddle"  # the fiddle model against fiddle tunes
    at.multiselect(key=state.EVALUATE_MODELS).set_value(["fiddle", "default"]).run()
    assert at.radio(key=state.EVALUATE_REFERENCE).value == "fiddle"  # two kinds of music: the choice stays
    # The Generate page uses the fiddle model: the page opens on it, against fiddle tunes.
    fresh = AppTest.from_file(APP, default_timeout=300).run()
    fresh.session_state[state.ACTIVE_MODEL] = "fiddle"
    fresh.switch_page("app_pages/evaluate.py")
    fresh.run()
    assert fresh.multiselect(key=state.EVALUATE_MODELS).value == ["fiddle"]
    assert fresh.radio(key=state.EVALUATE_REFERENCE).value == "fiddle"


def test_the_shipped_reference_measures_are_what_the_code_measures():
    """assets/reference_measures.json.gz against the code, for the first pieces of each side of each set
    (scripts/reference_measures.py writes it; rerun it when this fails)."""
    from neurotunes.corpus import held_out_sources, load_corpus
    from neurotunes.dataset import normalize_key
    from neurotunes.evaluate import (REFERENCE_MEASURES_FILE, REFERENCE_SETS, SHIPPED_MEASURES_NOTES,
                                     held_out_pieces, measured_from_dict)
    from neurotunes.metrics import piece_features
    from neurotunes.realism import MEASURES, measure_set

    shipped = json.loads(gzip.decompress(REFERENCE_MEASURES_FILE.read_bytes()))
    assert shipped["notes"] == SHIPPED_MEASURES_NOTES and shipped["key_normalized"] is True
    assert set(shipped["sets"]) == set(REFERENCE_SETS)
    for name, (_, corpus, _) in REFERENCE_SETS.items():
        entry = shipped["sets"][name]
        held_out = held_out_pieces(name)
        assert entry["held_out"] == [s.metadata["source"] for s in held_out]
        pool = load_corpus(corpus, limit=2, exclude=held_out_sources(corpus))  # the training side's first pieces
        for side, pieces in (("reference", held_out[:2]), ("pool", pool)):
            computed = measure_set([normalize_key(s) for s in pieces], SHIPPED_MEASURES_NOTES)
            stored = measured_from_dict(entry[side])
            assert len(stored) > 2
            for m in MEASURES:
                np.testing.assert_allclose(stored.values[m][:2], computed.values[m], atol=2e-6, err_msg=(name, m))
            assert np.array_equal(stored.chords[:2], computed.chords)
        for stored, piece in zip(entry["features"][:2], held_out[:2]):
            for k, v in piece_features(piece).items():
                np.testing.assert_allclose(np.array(stored[k], dtype=float), np.array(v, dtype=float), atol=2e-6,
                                           err_msg=(name, k))


def test_reference_sets_are_never_read_whole_for_the_default_evaluation():
    """The held-out pieces are read by name and the real range comes from the shipped file: no step reads the
    corpus, and every step counts pieces."""
    from neurotunes.evaluate import SHIPPED_MEASURES_NOTES, held_out_pieces, reference_features, reference_measures

    steps = []
    record = lambda what, done, total: steps.append((what, done, total))  # noqa: E731
    held_out = held_out_pieces("bach", progress=lambda done, total: record("read", done, total))
    assert [d for w, d, _ in steps] == list(range(1, len(held_out) + 1))
    started = time.time()
    features = reference_features("bach", held_out, on_step=record)
    reference, pool = reference_measures("bach", SHIPPED_MEASURES_NOTES, key_normalized=True, on_step=record)
    assert time.time() - started < 2.0
    assert len(features) == len(reference) == len(held_out) and len(pool) > 300
    assert [w for w, *_ in steps] == ["read"] * len(held_out)  # nothing measured, nothing else read


def test_evaluation_progress_counts_every_piece_of_every_phase():
    from neurotunes.bundle import load_bundle
    from neurotunes.config import GenerateConfig
    from neurotunes.evaluate import evaluate_models

    reference = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(30)), step=0.25, dur=0.25)
                 for k in (1, 2, 5)]
    steps: dict[str, list[tuple[int, int]]] = {}
    evaluate_models({"shipped": load_bundle("default")}, reference, samples=2, config=GenerateConfig(length=30),
                    pool=reference, on_step=lambda what, done, total: steps.setdefault(what, []).append((done, total)))
    assert steps["Measuring the real pieces"] == [(1, 3), (2, 3), (3, 3)]
    assert steps["shipped: composing"] == [(1, 2), (2, 2)]
    assert steps["shipped: predicting the real pieces"] == [(1, 3), (2, 3), (3, 3)]
    assert steps["shipped: measuring its pieces"] == [(1, 2), (2, 2)]
    assert steps["shipped: judging against the real range"] == [(0, 1), (1, 1)]


def test_each_model_is_evaluated_at_its_suggested_settings_unless_told_otherwise():
    from neurotunes.bundle import load_bundle
    from neurotunes.config import GenerateConfig
    from neurotunes.evaluate import evaluate_models

    reference = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(30)), step=0.25, dur=0.25) for k in (1, 2)]
    models = {"chorales": load_bundle("default"), "fiddle": load_bundle("fiddle")}

    def pitch_top_p(config):
        result = evaluate_models(models, reference, samples=1, config=config)
        return [report.pieces[0].metadata["recipe"]["settings"]["pitch_top_p"] for report in result.models]

    assert pitch_top_p({"length": 20}) == [0.95, 1.0]  # settings chosen: each model completes them its way
    assert pitch_top_p({"length": 20, "pitch_top_p": 0.9}) == [0.9, 0.9]
    assert pitch_top_p(GenerateConfig(length=20)) == [1.0, 1.0]  # a whole config: used as it is


def test_evaluate_page_ends_in_a_plain_verdict():
    at = _page("evaluate")
    at.slider[0].set_value(2)  # pieces per model
    at.slider[1].set_value(200)  # notes per piece: the shipped measures
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    result = at.session_state[state.EVALUATION]
    assert result.models[0].pieces[0].metadata["recipe"]["settings"]["pitch_top_p"] == 0.95  # the model's own
    headline = result.headline(short=lambda n: n.removesuffix(" (shipped)"))
    assert headline.startswith("Against real chorales: Bach chorales, four voices — passes for Bach on ")
    assert " measures; a classifier spots it " in headline and headline.endswith("% of the time")
    assert any(headline in m.value for m in at.markdown)
    table = at.dataframe[1].value
    assert "surprise per note (lower is better)" in table.columns and "NLL per note (nats)" not in table.columns
    assert table["guesses the next pitch"].str.endswith("%").all()


def test_a_verdict_names_the_closest_of_several_models():
    from neurotunes.evaluate import evaluate_models
    from neurotunes.realism import MEASURES

    reference = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(40)), step=0.25, dur=0.25)
                 for k in (1, 2, 5, 7)]
    pool = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(40)), step=0.25, dur=0.25)
            for k in (3, 4, 6, 8, 9)]
    noise = [make_score(pitches=tuple(int(p) for p in np.random.default_rng(s).integers(30, 100, 40)), step=0.1,
                        dur=0.05) for s in range(4)]
    result = evaluate_models({"noise": noise, "scales": pool[:4]}, reference, samples=4, pool=pool,
                             corpus_name="scales", music_name="scales")
    assert result.closest().name == "scales"
    assert result.headline().startswith("Closest to real scales: scales — passes for scales on ")
    noisy = result.models[0]
    assert noisy.realism.inside_count < len(MEASURES)
    assert result.conclusion(noisy).startswith("Not yet mistaken for real music — furthest off: ")


# --- Corpora count piece by piece ------------------------------------------------------------------------------
def test_an_abc_collection_counts_tune_by_tune_and_reads_as_music21_reads_it_whole(tmp_path, monkeypatch):
    from neurotunes import corpus

    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path / "data"))
    essen = corpus.corpus_paths("essen")[0]
    text = open(essen, encoding="utf-8").read()
    starts = [i for i in range(len(text)) if text.startswith("X:", i) and (i == 0 or text[i - 1] == "\n")]
    small = tmp_path / "collection.abc"
    small.write_text(text[:starts[4]], encoding="utf-8")  # the first four tunes
    whole = corpus._parse_corpus_file(str(small))  # music21 reading the collection at once
    assert len(whole) == 4
    read = corpus.iter_corpus_file(str(small))
    first = next(read)  # one tune parsed, not four
    read.close()
    assert first.to_dict() == whole[0].to_dict()
    part = json.loads(corpus._cache_file(str(small)).with_suffix(".part.json").read_text())
    assert part["tunes"] == 1
    assert [s.to_dict() for s in corpus.iter_corpus_file(str(small))] == [s.to_dict() for s in whole]  # goes on
    assert not corpus._cache_file(str(small)).with_suffix(".part.json").exists()
    # The Dataset page's Essen pieces: progress per tune from the first one on.
    seen, started = [], time.time()
    pieces = corpus.load_corpus("essen", limit=4, progress=lambda done, total: seen.append((done, total,
                                                                                            time.time() - started)))
    assert [(d, t) for d, t, _ in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)] and len(pieces) == 4
    assert seen[0][2] < 5.0, seen  # the first tune, not the first file (music21 reads a file whole in 10 s)


# --- Transcribe: one A/B switch -------------------------------------------------------------------------------
def _ab_players(at) -> list[str]:
    return [e.proto.srcdoc for e in at.get("iframe") if 'id="ab"' in e.proto.srcdoc]


def test_transcribe_checks_by_ear_with_one_ab_switch_and_reruns_with_the_settings_shown():
    from neurotunes.render import score_to_wav

    at = _page("transcribe")
    melody = make_score(pitches=(60, 64, 67, 72), step=0.4, dur=0.35)
    original = score_to_wav(melody)
    at.session_state[state.TRANSCRIPTIONS] = {"m.wav": state.Transcription("m.wav", original, melody)}
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    players = _ab_players(at)
    assert len(players) == 1 and not at.get("audio")  # one player, no second one beside it
    html = players[0]
    assert "A · original recording" in html and "B · transcription (FluidSynth)" in html
    assert "data:audio/wav;base64," in html and "data:audio/mpeg;base64," in html  # both sides, one player
    assert html.count('<audio id="audio"') == 1
    # "Re-run with current settings" says which settings it will use, and uses them.
    at.selectbox(key=state.TRANSCRIBE_PRESET).set_value("Single-line melody / voice").run()
    at.slider(key=state.TRANSCRIBE_SETTINGS["onset_threshold"]).set_value(0.45).run()
    shown = [c.value for c in at.caption if c.value.startswith("Re-run uses the settings shown above")]
    assert shown and "onset threshold 0.45" in shown[0] and "top melody line only on" in shown[0]
    next(b for b in at.button if b.label == "Re-run with current settings").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    redone = at.session_state[state.TRANSCRIPTIONS]["m.wav"]
    assert redone.settings["onset_threshold"] == 0.45 and redone.settings["monophonic"] is True
    assert any(c.value == "Made with the settings shown above: a re-run gives the same notes." for c in at.caption)
    at.slider(key=state.TRANSCRIBE_SETTINGS["onset_threshold"]).set_value(0.3).run()
    shown = next(c.value for c in at.caption if c.value.startswith("Re-run uses the settings shown above"))
    assert "onset threshold 0.3 (this one: 0.45)" in shown and "top melody" not in shown


# --- In a real browser -----------------------------------------------------------------------------------------
def test_ab_switch_and_evaluate_verdict_in_chromium(tmp_path):
    """Chromium: the transcription's one player switches between the recording and the transcription at the same
    moment while it plays; the Evaluate page counts pieces while it works and ends in its verdict."""
    from playwright.sync_api import expect

    from neurotunes import constants as C
    from neurotunes.render import score_to_wav
    from tests.browser_utils import ARTIFACTS, chromium, streamlit_server

    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    if (C.data_dir() / "cache" / "corpus").is_dir():  # parsed chorales are a cache: share it, keep the rest apart
        (data / "cache" / "corpus").symlink_to(C.data_dir() / "cache" / "corpus")
    wav = tmp_path / "melody.wav"
    wav.write_bytes(score_to_wav(make_score(pitches=(60, 64, 67, 72, 67, 64, 60, 55) * 3, step=0.4, dur=0.35)))
    with streamlit_server(data, name="verdicts-server") as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(240_000)
        expect.set_options(timeout=240_000)
        try:
            page.goto(url + "/transcribe")
            page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files(str(wav))
            page.get_by_role("button", name="Transcribe").first.click()
            expect(page.get_by_role("heading", name="melody.wav")).to_be_visible()
            expect(page.get_by_test_id("stAudio")).to_have_count(0)  # no second player beside the A/B one
            player = page.frame_locator("iframe").first
            expect(player.get_by_role("button", name="A · original recording")).to_be_visible()
            expect(player.locator("audio")).to_have_js_property("readyState", 4)
            frame = next(f for f in page.frames if f.url.startswith("about:srcdoc"))
            audio = "document.getElementById('audio')"
            assert frame.evaluate(f"{audio}.src").startswith("data:audio/mpeg")  # B: the transcription
            wrap = player.locator("#wrap")
            wrap.scroll_into_view_if_needed()
            box = wrap.bounding_box()
            page.mouse.click(box["x"] + 46 + (box["width"] - 54) * 0.3, box["y"] + box["height"] / 2)  # play there
            frame.wait_for_function(f"!{audio}.paused && {audio}.currentTime > 0")
            page.wait_for_timeout(600)
            before = frame.evaluate(f"{audio}.currentTime")
            player.get_by_role("button", name="A · original recording").click()
            frame.wait_for_function(f"{audio}.src.startsWith('data:audio/wav') && !{audio}.paused")
            switch = frame.evaluate("window.neurotunesAB.lastSwitch()")
            assert switch["side"] == "A" and switch["playing"] and switch["from"] >= before
            assert abs(switch["to"] - switch["from"]) < 0.05, switch  # A goes on from the moment B was at
            switched = frame.evaluate(f"{audio}.currentTime")
            page.wait_for_timeout(700)
            assert frame.evaluate(f"{audio}.currentTime") > switched  # and it plays on
            assert frame.evaluate("document.body.dataset.side") == "A"
            expect(player.get_by_role("button", name="A · original recording")).to_have_attribute(
                "aria-pressed", "true")
            page.screenshot(path=str(ARTIFACTS / "transcribe-ab.png"), full_page=True)
            player.get_by_role("button", name="B · transcription (FluidSynth)").click()
            frame.wait_for_function(f"{audio}.src.startsWith('data:audio/mpeg')")
            frame.evaluate(f"{audio}.pause()")

            page.goto(url + "/evaluate")
            expect(page.get_by_role("heading", name="Evaluate")).to_be_visible()
            slider = page.get_by_role("slider").first  # pieces per model: 2
            slider.focus()
            page.keyboard.press("Home")
            page.keyboard.press("ArrowRight")
            expect(page.get_by_test_id("stSliderThumbValue").first).to_have_text("2")
            page.get_by_role("button", name="Evaluate").click()
            counted, verdict = set(), page.get_by_text("Against real chorales: Bach chorales, four voices —")
            deadline = time.time() + 300
            while not verdict.count() and time.time() < deadline:
                for text in page.get_by_test_id("stProgress").all_inner_texts():
                    counted.add(text)
                page.wait_for_timeout(150)
            expect(verdict).to_be_visible()
            assert any(" of " in t and "composing" in t for t in counted), counted  # it counted pieces
            assert not any("Reading the real pieces" in t for t in counted), counted  # never the whole corpus
            verdict.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "evaluate-verdict.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure-verdicts.png"), full_page=True)
            raise


def test_a_long_recording_reaches_the_ab_player_as_an_mp3_copy():
    from neurotunes.render import score_to_wav
    from neurotunes.ui.transcribe_form import MAX_ORIGINAL_INLINE_BYTES, listening_copy

    short = score_to_wav(make_score())
    assert listening_copy("short.wav", short) == (short, "audio/wav")  # played as it is
    long = score_to_wav(make_score(pitches=(60, 64, 67, 72) * 12, step=0.5, dur=0.45))  # 24 s of stereo WAV
    assert len(long) > MAX_ORIGINAL_INLINE_BYTES
    copy, mime = listening_copy("long.wav", long)
    assert mime == "audio/mpeg" and len(copy) < len(long) / 4
    assert copy[:3] == b"ID3" or copy[0] == 0xFF  # an ID3 tag or an MP3 frame's sync byte
