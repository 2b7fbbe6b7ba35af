"""Every page through streamlit.testing's AppTest (real library underneath)."""


import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.keys import Key
from neurotunes.ui import state
from neurotunes.ui.train_form import NEW_MODEL
from tests.conftest import ROOT, make_score, play_along_players

pytestmark = pytest.mark.slow
APP = str(ROOT / "app.py")
TIMEOUT = 180


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"app_pages/{name}.py")
    return at.run()


def test_start_page_is_generate_and_light():
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Generate"
    assert any("No takes yet" in i.value for i in at.info)


def test_generate_makes_a_playable_take():
    at = _app().run()
    at.slider(key=state.setting_key("length")).set_value(40)  # length
    at.button[0].click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    takes = at.session_state[state.TAKES]
    assert len(takes) == 1 and len(takes[0].score) == 40
    players = play_along_players(at)
    assert len(players) == 1, "no play-along player"
    assert "data:audio/mpeg;base64," in players[0] and '"unit":"seconds"' in players[0]
    assert at.get("plotly_chart"), "no piano roll"
    assert len(at.main.get("download_button")) == 3  # MIDI, MP3, WAV (the sidebar has "Download everything")
    names = [b.proto.label for b in at.main.get("download_button")]
    assert names == ["MIDI", "MP3", "WAV (44.1 kHz)"]
    # Time in beats: both rolls follow.
    at.get("button_group")[0].set_value("beats").run()
    assert '"unit":"beats"' in play_along_players(at)[0]
    assert at.get("plotly_chart")[0].proto.spec and '"beats"' in at.get("plotly_chart")[0].proto.spec
    # A second take with another seed keeps the first.
    at.number_input[0].set_value(9)
    at.button[0].click().run()
    assert len(at.session_state[state.TAKES]) == 2
    assert at.session_state[state.TAKES][0].score != at.session_state[state.TAKES][1].score


def test_transcribe_page_shows_results_and_accepts_into_dataset():
    from neurotunes.render import score_to_wav

    at = _app().run()
    at = _page(at, "transcribe")
    assert not at.exception
    assert any("Upload a recording" in i.value for i in at.info)
    score = make_score()
    at.session_state[state.TRANSCRIPTIONS] = {"a.wav": state.Transcription("a.wav", score_to_wav(score), score)}
    at.run()
    assert not at.exception
    # One player with an A/B switch: the original (A) and the rendering (B), no second player beside it.
    assert not at.get("audio") and len(play_along_players(at)) == 1
    assert "data:audio/wav;base64," in play_along_players(at)[0] and "data:audio/mpeg" in play_along_players(at)[0]
    add = next(b for b in at.button if b.label == "Add to my dataset")
    add.click().run()
    assert "a.wav" in at.session_state[state.DATASET]
    assert any(b.label == "In dataset ✓" for b in at.button)


def test_dataset_page_without_sources_is_a_message_not_a_crash():
    at = _page(_app().run(), "dataset")
    assert not at.exception
    next(b for b in at.button if b.label == "Build dataset").click().run()
    assert not at.exception
    assert any("choose at least one source" in e.value for e in at.error)


def test_dataset_page_builds_from_a_corpus_and_shows_statistics():
    at = _page(_app().run(), "dataset")
    at.multiselect[0].set_value(["bach"])
    at.slider[0].set_value(5)
    at.checkbox[1].check()  # key normalization (checkbox 0 is the disabled "accepted transcriptions")
    next(b for b in at.button if b.label == "Build dataset").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    dataset = at.session_state[state.BUILT_DATASET]
    assert len(dataset.train) + len(dataset.validation) == 5 and len(dataset.validation) >= 1
    assert {s.key for s in dataset.train + dataset.validation} <= {Key(0, "major"), Key(9, "minor")}
    labels = {m.label: m.value for m in at.metric}
    assert labels["Training pieces"] == str(len(dataset.train))
    assert len(at.get("plotly_chart")) == 3  # pitches, durations, keys


def _wait_for_job(at: AppTest, timeout: float = 240) -> AppTest:
    import time

    deadline = time.time() + timeout
    while at.session_state[state.TRAIN_JOB].active and time.time() < deadline:
        time.sleep(0.5)
    return at.run()


def test_train_page_trains_in_the_background_and_generate_uses_it():
    at = _page(_app().run(), "train")
    at.radio(key=state.TRAIN_START_FROM).set_value(NEW_MODEL).run()
    at.slider[0].set_value(5)  # chorales
    at.selectbox[0].set_value("Fastest to train, for small datasets and tries (1 × LSTM 128)")
    at.slider[1].set_value(2)  # epochs
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state[state.TRAIN_JOB]
    at = _wait_for_job(at)
    assert job.status == "done", job.error
    assert job.history["loss"] and len(job.samples) == 2  # a sample after each epoch
    assert not at.exception
    models = at.session_state[state.TRAINED_MODELS]
    assert len(models) == 1
    name = next(iter(models))
    assert at.session_state[state.ACTIVE_MODEL] == state.DEFAULT_MODEL  # until "Use this model"
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert at.session_state[state.ACTIVE_MODEL] == name
    assert any(b.label == "Download .zip" for b in at.get("download_button"))
    assert at.get("plotly_chart"), "no training curves"
    at = _page(at, "generate")
    at.slider(key=state.setting_key("length")).set_value(20)
    at.button[0].click().run()
    assert at.session_state[state.TAKES][-1].model_name == models[name].name


def test_stop_keeps_best_weights_and_resume_continues():
    at = _page(_app().run(), "train")
    at.radio(key=state.TRAIN_START_FROM).set_value(NEW_MODEL).run()
    at.slider[0].set_value(5)
    at.selectbox[0].set_value("Fastest to train, for small datasets and tries (1 × LSTM 128)")
    at.slider[1].set_value(30)  # far more epochs than we wait for
    next(b for b in at.button if b.label == "Train").click().run()
    job = at.session_state[state.TRAIN_JOB]
    import time

    deadline = time.time() + 120
    while not job.history.get("loss") and time.time() < deadline:  # wait for one finished epoch
        time.sleep(0.5)
    at.run()
    assert any(d.label.startswith("Checkpoint after epoch") for d in at.get("download_button"))
    next(b for b in at.button if b.label.startswith("Stop")).click().run()
    at = _wait_for_job(at)
    assert job.status == "stopped" and job.result is not None
    assert len(at.session_state[state.TRAINED_MODELS]) == 1
    at.slider[1].set_value(1)
    next(b for b in at.button if b.label == "Resume this run").click().run()
    resumed = at.session_state[state.TRAIN_JOB]
    assert resumed is not job and resumed.resume_from is job.result
    at = _wait_for_job(at)
    assert resumed.status == "done", resumed.error
    assert resumed.result.info.resumed_from == job.result.hash


def test_first_page_does_not_import_tensorflow_or_basic_pitch():
    """The app's first page must appear in seconds: heavy libraries load on first use only."""
    import subprocess
    import sys

    code = (
        "import sys, time; t = time.time()\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "heavy = sorted(m for m in ('tensorflow', 'basic_pitch', 'music21', 'keras') if m in sys.modules)\n"
        "print('HEAVY', heavy, round(time.time() - t, 1))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("HEAVY"))
    assert line.startswith("HEAVY []"), line


def test_transcribe_presets_and_rerun_with_new_settings():
    from neurotunes.render import score_to_wav

    at = _page(_app().run(), "transcribe")
    at.selectbox(key="tr_preset").set_value("Single-line melody / voice").run()
    assert at.checkbox(key="tr_mono").value is True
    assert at.slider(key="tr_onset").value == 0.6
    melody = make_score(pitches=(60, 64, 67, 72), step=0.4, dur=0.35)
    at.session_state[state.TRANSCRIPTIONS] = {"m.wav": state.Transcription("m.wav", score_to_wav(melody), melody)}
    at.run()
    at.radio(key="tr_quantize").set_value("1/16")
    at.slider(key="tr_onset").set_value(0.4)
    next(b for b in at.button if b.label == "Re-run with current settings").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    redone = at.session_state[state.TRANSCRIPTIONS]["m.wav"].score
    assert redone.metadata["transcription"]["onset_threshold"] == 0.4
    assert redone.metadata["postprocess"] == {**redone.metadata["postprocess"], "quantize": "1/16", "monophonic": True}
    assert [n.pitch for n in redone.notes][:4] == [60, 64, 67, 72]
    assert all(a.end <= b.start for a, b in zip(redone.notes, redone.notes[1:]))  # one note at a time
    assert any(m.label == "Estimated tempo" for m in at.metric)


def test_generate_studio_continue_undo_variations_and_why():
    at = _app().run()
    at.slider(key=state.setting_key("length")).set_value(30)  # length
    at.number_input[1].set_value(2)  # takes at once
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    takes = at.session_state[state.TAKES]
    assert [t.config.seed for t in takes] == [0, 1]
    at.session_state[state.take_key("why_open", 2)] = True  # "Why this note?" opened on the take shown
    at.run()
    assert len(at.get("plotly_chart")) >= 2  # piano roll + the "why this note" chart
    next(b for b in at.button if b.label == "Continue this take").click().run()
    takes = at.session_state[state.TAKES]
    assert len(takes) == 3 and takes[-1].parent == 2
    assert takes[-1].score.metadata["primer_notes"] == len(takes[1].score)
    next(b for b in at.button if b.label == "Undo last change").click().run()
    assert len(at.session_state[state.TAKES]) == 2
    next(b for b in at.button if b.label == "Delete take").click().run()
    assert len(at.session_state[state.TAKES]) == 1


def test_impossible_generate_settings_are_a_message():
    at = _app().run()
    at.select_slider[0].set_value((22, 23))  # A#0-B0 ...
    at.selectbox[2].set_value("major pentatonic")  # ... and C major pentatonic: no note fits
    at.button[0].click().run()
    assert not at.exception
    assert any("widen the range" in e.value for e in at.error)
    assert not at.session_state[state.TAKES]


def test_a_dataset_too_small_to_train_on_is_reported_by_the_run():
    """The check happens once, in the training run, and reaches the page as a message."""
    from neurotunes.dataset import split_dataset

    at = _page(_app().run(), "train")
    at.session_state[state.BUILT_DATASET] = split_dataset([make_score(pitches=(60, 62))], validation_fraction=0)
    at.run()
    at.radio(key=state.TRAIN_SOURCE).set_value("The dataset from the Dataset page")  # radio 0 is "Start from"
    next(b for b in at.button if b.label == "Train").click().run()
    at = _wait_for_job(at, timeout=60)
    assert not at.exception
    assert any("lower the sequence length" in e.value for e in at.error), [e.value for e in at.error]


def test_evaluate_page_compares_two_models_with_my_dataset():
    from neurotunes.dataset import split_dataset

    at = _page(_app().run(), "evaluate")
    assert not at.exception
    assert any("press **Evaluate**" in i.value for i in at.info)
    pieces = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(24)), step=0.25, dur=0.25) for k in range(1, 7)]
    at.session_state[state.BUILT_DATASET] = split_dataset(pieces, validation_fraction=0.5, seed=0)
    at.run()
    # No model chosen: a message, nothing else happens.
    at.multiselect[0].set_value([])
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception
    assert any("at least one model" in e.value for e in at.error)
    at.multiselect[0].set_value(["default", "fiddle"])
    at.radio[0].set_value("my dataset")
    at.slider[0].set_value(2)  # pieces per model
    at.slider[1].set_value(40)  # notes per piece
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    result = at.session_state[state.EVALUATION]
    assert [len(m.features) for m in result.models] == [2, 2]
    table = at.dataframe[0].value
    assert len(table) == 8 and "closest" in table.columns
    assert at.dataframe[1].value["surprise per note (lower is better)"].notna().all()
    assert len(at.get("plotly_chart")) >= 4  # boxes, pitch classes, IOIs, intervals
    assert play_along_players(at)  # the pieces can be heard


def test_transcribing_the_same_recording_again_never_crashes():
    """A recording analysed once is served from the process cache: "Re-run with current settings" twice, and
    a second session uploading the same audio, used to crash the page with CacheReplayClosureError."""
    from neurotunes.render import score_to_wav

    melody = make_score(pitches=(60, 64, 67, 72, 67, 64), step=0.4, dur=0.35)
    audio = score_to_wav(melody)
    sessions = []
    for _ in range(2):  # two users, one server process
        at = _page(_app().run(), "transcribe")
        at.session_state[state.TRANSCRIPTIONS] = {"same.wav": state.Transcription("same.wav", audio, melody)}
        at.run()
        for onset in (0.5, 0.4):  # the first user's first run analyses; every other run is a cache hit
            at.slider(key="tr_onset").set_value(onset)
            next(b for b in at.button if b.label == "Re-run with current settings").click().run()
            assert not at.exception, at.exception
            assert not at.error, [e.value for e in at.error]
            assert at.session_state[state.TRANSCRIPTIONS]["same.wav"].score.metadata["transcription"][
                "onset_threshold"] == onset
        sessions.append(at)
    assert [n.pitch for n in sessions[1].session_state[state.TRANSCRIPTIONS]["same.wav"].score.notes][:3] == [60, 64, 67]


def test_generate_shows_the_new_take_and_the_address_bar_follows_the_take_shown():
    """After Generate, Takes at once and Continue, the page shows the newest take (it stayed on the one viewed
    before); a take that cannot be shared clears the previous take's link from the address bar."""
    at = _app().run()
    at.slider(key=state.setting_key("length")).set_value(20)  # length
    at.button[0].click().run()
    assert not at.get("radio") or state.TAKE_SHOWN not in [r.key for r in at.radio]  # one take: nothing to pick
    at.slider(key=state.setting_key("temperature")).set_value(1.3)  # temperature
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.radio(key=state.TAKE_SHOWN).value == 2
    assert at.query_params["temperature"] == ["1.3"]  # the link of the take shown
    at.radio(key=state.TAKE_SHOWN).set_value(1).run()
    at.number_input[1].set_value(3)  # takes at once
    at.button[0].click().run()
    assert at.radio(key=state.TAKE_SHOWN).value == 5
    next(b for b in at.button if b.label == "Continue this take").click().run()
    assert not at.exception
    assert at.radio(key=state.TAKE_SHOWN).value == 6  # a continuation has a primer: no link
    assert "model" not in at.query_params


def test_heavy_jobs_wait_in_line_and_see_their_place():
    import threading
    import time

    from neurotunes.ui.queue import JobLine

    line = JobLine(slots=1)
    places: list[int] = []
    release = threading.Event()
    order: list[str] = []

    def first():
        with line.slot():
            order.append("first")
            release.wait(5)

    def second():
        with line.slot(on_wait=places.append):
            order.append("second")

    t1 = threading.Thread(target=first)
    t1.start()
    while line.running == 0:
        time.sleep(0.01)
    t2 = threading.Thread(target=second)
    t2.start()
    time.sleep(0.6)
    assert order == ["first"] and places and set(places) == {1}  # waiting, told it is next
    release.set()
    t1.join(5)
    t2.join(5)
    assert order == ["first", "second"] and line.running == 0 and line.waiting() == 0

    def gives_up(place):
        raise KeyboardInterrupt  # the user left the page while waiting

    with line.slot():
        with pytest.raises(KeyboardInterrupt):
            with line.slot(on_wait=gives_up):
                pass
    assert line.waiting() == 0 and line.running == 0


def test_an_unexpected_error_is_one_line_with_an_id_and_no_server_path(monkeypatch, caplog):
    """A bug (not the user's input) inside an action or in the page itself: a friendly line with an error id,
    the traceback in the server log only, no path of the server in anything shown."""
    import neurotunes.generate
    import neurotunes.ui.widgets

    def bug(*args, **kwargs):
        raise RuntimeError("boom in /srv/secret/neurotunes/generate.py")

    at = _app().run()
    at.slider(key=state.setting_key("length")).set_value(20)
    monkeypatch.setattr(neurotunes.generate, "generate_traced", bug)
    at.button[0].click().run()
    assert not at.exception
    (message,) = [e.value for e in at.error]
    assert message.startswith("Generation failed: something went wrong on our side (error id ")
    assert "/srv" not in message and "boom" not in message
    error_id = message.split("error id ")[1][:8]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
    monkeypatch.undo()
    at.button[0].click().run()  # the page still works, and nothing was lost
    assert len(at.session_state[state.TAKES]) == 1
    monkeypatch.setattr(neurotunes.ui.widgets, "repetition_stats", bug)  # a bug in code the page runs itself
    at.run()
    assert not at.exception
    assert any(e.value.startswith("This page stopped: something went wrong on our side") for e in at.error)
    assert len(at.session_state[state.TAKES]) == 1


def test_server_config_hides_error_details_and_the_developer_toolbar():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"  # no Deploy button in a live demo


def test_messages_never_show_a_server_path():
    from neurotunes.ui.widgets import without_paths

    assert without_paths("cannot load /usr/share/sounds/sf2/FluidR3_GM.sf2: bad") == "cannot load FluidR3_GM.sf2: bad"
    assert without_paths("'/home/user/.neurotunes/x.sf2' is broken") == "'x.sf2' is broken"
    assert without_paths("quantize to 1/16 in 3/4 time") == "quantize to 1/16 in 3/4 time"


def test_sidebar_counts_what_the_page_just_made():
    at = _app().run()
    at.slider(key=state.setting_key("length")).set_value(20)
    at.button[0].click().run()
    assert any("Takes: 1" in c.value for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]


def test_shared_results_are_computed_once_for_everyone():
    """Eight sessions asking for the same share link (or the same recording) at once: one computation."""
    import threading
    import time

    from neurotunes.ui.cache import SharedResults

    results = SharedResults(capacity=2)
    calls: list[int] = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(results.get("link", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len({id(value) for value, _ in got}) == 1
    assert sorted(fresh for _, fresh in got) == [False] * 7 + [True]
    with pytest.raises(ZeroDivisionError):  # a failure stores nothing, and the next ask computes again
        results.get("bad", lambda: 1 / 0)
    assert results.get("bad", lambda: "ok") == ("ok", True)
    results.get("third", lambda: 3)  # capacity 2: the oldest ("link") goes
    assert results.get("link", lambda: "again") == ("again", True)


def test_a_share_link_opened_by_two_visitors_is_composed_once(monkeypatch):
    import neurotunes.generate

    calls = []
    real = neurotunes.generate.generate_traced
    monkeypatch.setattr(neurotunes.generate, "generate_traced", lambda *a, **k: calls.append(1) or real(*a, **k))
    link = {"model": "default", "hash": None, "length": "24", "seed": "31337", "temperature": "1.2"}
    from neurotunes.ui.cache import shipped_bundle

    link["hash"] = shipped_bundle("default").hash[:12]
    takes = []
    for _ in range(2):
        at = _app()
        at.query_params.update(link)
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        takes.append(at.session_state[state.TAKES][0].score)
    assert len(calls) == 1 and takes[0] == takes[1] and len(takes[0]) == 24


def test_a_take_stopped_by_its_budget_says_why_on_the_page(monkeypatch):
    from neurotunes import constants as C

    monkeypatch.setattr(C, "MAX_TOKENS_PER_NOTE", 1)
    monkeypatch.setattr(C, "GENERATE_TOKEN_SLACK", 0)
    at = _app().run()
    at.slider(key=state.setting_key("length")).set_value(60)
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert any("Stopped after" in w.value and "budget of 60 steps" in w.value for w in at.warning)
