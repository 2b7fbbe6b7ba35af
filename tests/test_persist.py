"""A refresh or a new tab brings back everything a browser made; settings survive page switches too.

AppTest sessions have no browser, so the cookie a browser would send is put in
``st.context.cookies`` by hand (as in test_visitor.py): two AppTests with the same
cookie are two page loads of the same browser.  The last test does it for real:
Chromium, one server, F5 and a new tab.
"""

import io
import json
import os
import pickle
import re
import time
import zipfile

import pytest
from streamlit.runtime.context import ContextProxy, StreamlitCookies
from streamlit.testing.v1 import AppTest

from neurotunes.config import GenerateConfig
from neurotunes.generate import StepTrace
from neurotunes.ui import persist, state
from neurotunes.ui.visitor import COOKIE
from tests.conftest import ROOT, make_score, make_zip

pytestmark = pytest.mark.slow  # AppTest of the whole app, and one real browser
APP = str(ROOT / "app.py")
SECRET = "Kp4" * 14 + "-"  # 43 base64url characters, like secrets.token_urlsafe(32)
MODEL = "My model (abc123)"


@pytest.fixture
def browser(monkeypatch, tmp_path):
    """One browser: its cookie, and a data folder of its own for the server."""
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ContextProxy, "cookies", property(lambda self: StreamlitCookies({COOKIE: SECRET})))
    return persist.folder_for(SECRET)


def _load() -> AppTest:
    """A page load: a new session of the browser."""
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception, at.exception
    return at


def _page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"app_pages/{name}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _take(number: int, notes: int = 16, steps: int = 0) -> state.Take:
    score = make_score(pitches=tuple(60 + (i * number) % 12 for i in range(notes)), step=0.25, dur=0.2)
    trace = [StepTrace(f"NOTE_ON_{60 + i % 12}", [f"NOTE_ON_{60 + k}" for k in range(10)], [0.1] * 10)
             for i in range(steps)]
    return state.Take(number, score, "Bach chorales LSTM", GenerateConfig(seed=number, temperature=0.9), trace,
                      model_key="lstm")


def _files(folder, kind: str) -> list:
    return sorted((folder / kind).glob("*.json"))


def _kept_numbers(folder) -> list[int]:
    """The numbers of the takes kept on the server (each file is named after the take's id)."""
    records = [json.loads(p.read_text()) for p in _files(folder, "takes")]
    assert all(r["key"] == r["item"]["uid"] for r in records)
    return sorted(r["item"]["number"] for r in records)


def _sidebar_text(at: AppTest) -> str:
    return " ".join(e.value for e in (*at.sidebar.caption, *at.sidebar.warning))


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_new_session_of_the_same_browser_gets_everything_back(browser):
    from neurotunes.bundle import load_bundle
    from neurotunes.dataset import split_dataset
    from neurotunes.render import score_to_wav

    at = _load()
    at.slider(key=state.setting_key("length")).set_value(30)
    at.number_input(key=state.setting_key("seed")).set_value(7)
    _button(at, "Generate").click().run()  # a real take: the shipped model, its trace
    assert not at.exception and len(at.session_state[state.TAKES]) == 1
    melody = make_score(pitches=(60, 64, 67, 72), step=0.4, dur=0.35)
    audio = score_to_wav(melody)
    pieces = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(12))) for k in range(1, 5)]
    bundle = load_bundle("lstm")
    at.session_state[state.TRANSCRIPTIONS] = {"hum ♪.wav": state.Transcription("hum ♪.wav", audio, melody,
                                                                              {"onset_threshold": 0.4})}
    at.session_state[state.DATASET] = {"hum ♪.wav": melody}
    at.session_state[state.BUILT_DATASET] = split_dataset(pieces, validation_fraction=0.25, description="mine")
    at.session_state[state.TRAINED_MODELS] = {MODEL: bundle}
    at.session_state[state.ACTIVE_MODEL] = MODEL
    at.run()
    _page(at, "transcribe").slider(key=state.TRANSCRIBE_SETTINGS["onset_threshold"]).set_value(0.3).run()
    _page(at, "dataset").multiselect(key=state.DATASET_SETTINGS["corpora"]).select("bach").run()
    _page(at, "train").slider(key=state.TRAIN_EPOCHS).set_value(9).run()
    made = at.session_state[state.TAKES][0]
    link = at.session_state[state.SHARE_APPLIED]  # take 1's share link, in the address bar: not opened after F5
    assert ("seed", "7") in link

    again = _load()  # F5: a new session with the same cookie
    [take] = again.session_state[state.TAKES]
    assert (take.number, take.score, take.config, take.model_name) == (1, made.score, made.config, made.model_name)
    assert [(t.token, t.top_tokens) for t in take.trace] == [(t.token, t.top_tokens) for t in made.trace]
    assert take.config.seed == 7 and len(take.score) == 30
    [tr] = again.session_state[state.TRANSCRIPTIONS].values()
    assert (tr.name, tr.audio, tr.score, tr.settings) == ("hum ♪.wav", audio, melody, {"onset_threshold": 0.4})
    assert again.session_state[state.DATASET] == {"hum ♪.wav": melody}
    built = again.session_state[state.BUILT_DATASET]
    assert built.description == "mine" and len(built.train) == 3 and built.validation[0] in pieces
    assert again.session_state[state.TRAINED_MODELS][MODEL].hash == bundle.hash  # via from_zip's checks
    assert again.session_state[state.ACTIVE_MODEL] == MODEL
    assert again.session_state[state.SHARE_APPLIED] == link  # (name, value) tuples, as the page compares them
    assert again.number_input(key=state.setting_key("seed")).value == 7  # the Generate form, as it was left
    assert again.slider(key=state.setting_key("length")).value == 30
    assert "Takes: 1" in _sidebar_text(again) and "Transcriptions: 1" in _sidebar_text(again)
    assert _page(again, "transcribe").slider(key=state.TRANSCRIBE_SETTINGS["onset_threshold"]).value == 0.3
    assert _page(again, "dataset").multiselect(key=state.DATASET_SETTINGS["corpora"]).value == ["bach"]
    assert _page(again, "train").slider(key=state.TRAIN_EPOCHS).value == 9
    assert not list(browser.rglob("*.tmp")), "a temporary file was left behind"
    assert not [p for p in browser.rglob("*") if p.suffix in (".pkl", ".pickle")]


def test_settings_survive_page_switches(browser):
    at = _load()
    at.number_input(key=state.setting_key("seed")).set_value(11).run()
    _page(at, "transcribe").selectbox(key=state.TRANSCRIBE_PRESET).set_value(
        at.selectbox(key=state.TRANSCRIBE_PRESET).options[1]).run()
    onset = at.slider(key=state.TRANSCRIBE_SETTINGS["onset_threshold"])
    onset.set_value(0.85 if onset.value != 0.85 else 0.15).run()
    chosen_onset, preset = onset.value, at.selectbox(key=state.TRANSCRIBE_PRESET).value
    _page(at, "dataset").multiselect(key=state.DATASET_SETTINGS["corpora"]).select("bach").run()
    at.slider(key=state.DATASET_SETTINGS["validation"]).set_value(0.3).run()
    _page(at, "generate")
    assert at.number_input(key=state.setting_key("seed")).value == 11
    _page(at, "transcribe")
    assert at.slider(key=state.TRANSCRIBE_SETTINGS["onset_threshold"]).value == chosen_onset
    assert at.selectbox(key=state.TRANSCRIBE_PRESET).value == preset
    _page(at, "dataset")
    assert at.multiselect(key=state.DATASET_SETTINGS["corpora"]).value == ["bach"]
    assert at.slider(key=state.DATASET_SETTINGS["validation"]).value == 0.3


def test_a_rerun_writes_only_what_changed(browser):
    from neurotunes.bundle import load_bundle

    at = _load()
    at.session_state[state.TAKES] = [_take(1), _take(2)]
    at.session_state[state.TRAINED_MODELS] = {MODEL: load_bundle("lstm")}
    at.run()
    [model_zip] = (browser / "models").glob("*.zip")
    before = {p: p.stat().st_mtime_ns for p in browser.rglob("*") if p.is_file() and p.name != persist.MARKER}
    time.sleep(0.05)
    at.number_input(key=state.setting_key("seed")).set_value(3).run()
    at.run()
    changed = {p for p, t in before.items() if p.stat().st_mtime_ns != t}
    assert changed == {browser / "settings.json"}, changed  # not the 4 MB model, not the takes
    assert model_zip.stat().st_mtime_ns == before[model_zip]
    at.session_state[state.TAKES] = at.session_state[state.TAKES][1:]  # take 1 deleted: its file goes, not 2's
    at.run()
    assert _kept_numbers(browser) == [2]
    at.session_state[state.TAKES] = []  # the last take gone: the page says "No takes yet" and stops early ...
    at.run()
    assert not _files(browser, "takes")  # ... and the save, after st.stop(), still happened


def test_two_tabs_of_one_browser_keep_both_their_takes(browser):
    """Two tabs both make their "take 1" and continue it: both survive a refresh, numbered apart, each
    continuation still pointing at the take it continues."""
    first, second = _load(), _load()
    for tab, seed in ((first, 3), (second, 4)):
        tab.number_input(key=state.setting_key("seed")).set_value(seed)
        tab.slider(key=state.setting_key("length")).set_value(20)
        _button(tab, "Generate").click().run()
    continued = _button(first, "Continue this take")  # take 2 of the first tab continues its take 1
    continued.click().run()
    assert not first.exception and [t.number for t in first.session_state[state.TAKES]] == [1, 2]
    assert [t.number for t in second.session_state[state.TAKES]] == [1]
    assert _kept_numbers(browser) == [1, 1, 2]  # nothing overwritten on the server

    again = _load()
    takes = again.session_state[state.TAKES]
    assert [t.number for t in takes] == [1, 2, 3]
    by_seed = {t.config.seed: t for t in takes if t.parent is None}
    assert by_seed[3].number == 1 and by_seed[4].number == 3  # the later of the two takes 1 moves after the rest
    [continuation] = [t for t in takes if t.parent is not None]
    assert continuation.number == 2 and continuation.parent == 1 and continuation.parent_uid == by_seed[3].uid
    assert _kept_numbers(browser) == [1, 2, 3]  # the server's copy follows the new numbers


def test_damaged_files_are_skipped_with_a_log_line_and_nothing_breaks(browser, caplog):
    from neurotunes.bundle import load_bundle

    at = _load()
    at.session_state[state.TAKES] = [_take(1), _take(2), _take(3)]
    at.session_state[state.TRAINED_MODELS] = {MODEL: load_bundle("lstm"), "pickled": load_bundle("fiddle")}
    at.session_state[state.TRANSCRIPTIONS] = {"a.wav": state.Transcription("a.wav", b"RIFF-audio", make_score())}
    at.run()
    takes = {json.loads(p.read_text())["item"]["number"]: p for p in _files(browser, "takes")}
    takes[1].write_text('{"version": 1, "key": "1", "writ')  # cut short
    record = json.loads(takes[2].read_text())
    record["item"]["score"]["notes"][0]["pitch"] = 300  # edited into nonsense
    takes[2].write_text(json.dumps(record))
    models = {json.loads(p.read_text())["key"]: p.with_suffix(".zip") for p in _files(browser, "models")}
    data = bytearray(models[MODEL].read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte in the weights
    models[MODEL].write_bytes(bytes(data))
    models["pickled"].write_bytes(make_zip({"model.pkl": pickle.dumps({"weights": [1, 2]})}))  # never unpickled
    next((browser / "transcriptions").glob("*.audio")).write_bytes(b"other audio")  # not the recording it was
    settings = json.loads((browser / "settings.json").read_text())
    settings["values"][state.setting_key("length")] = 99_999  # outside the slider: the widget would raise
    settings["values"][state.setting_key("seed")] = 5
    settings["values"]["nt_visitor"] = "not a setting"
    (browser / "settings.json").write_text(json.dumps(settings))

    again = _load()  # no exception, no error on the page
    assert not again.error, [e.value for e in again.error]
    assert [t.number for t in again.session_state[state.TAKES]] == [3]
    assert again.session_state[state.TRAINED_MODELS] == {} and again.session_state[state.TRANSCRIPTIONS] == {}
    assert again.slider(key=state.setting_key("length")).value == GenerateConfig().length  # back to its default
    assert "nt_visitor" not in persist.setting_keys()
    logged = caplog.text
    for reason in ("ignored a kept take", "ignored a kept model", "ignored a kept transcription",
                   "a page rejected settings", "not a setting this app keeps", "pickle"):
        assert reason in logged, reason
    (browser / "settings.json").write_bytes(b"\x00\xff not json")
    assert not _load().exception  # a settings file that is no JSON at all: ignored, defaults


def test_over_the_limit_the_oldest_takes_go_first_with_a_message(browser, monkeypatch):
    at = _load()
    at.session_state[state.TAKES] = [_take(n, notes=200, steps=200) for n in (1, 2, 3, 4)]
    at.run()
    per_take = max(p.stat().st_size for p in _files(browser, "takes"))
    monkeypatch.setenv(persist.LIMIT_ENV, str((2.5 * per_take + 20_000) / persist.MB))
    at.session_state[state.TAKES] = [*at.session_state[state.TAKES], _take(5, notes=200, steps=200)]
    at.run()
    assert _kept_numbers(browser) == [4, 5]
    warning = " ".join(w.value for w in at.sidebar.warning)
    assert "take 1, take 2, take 3" in warning and "Download" in warning
    assert len(at.session_state[state.TAKES]) == 5  # this tab still holds them
    assert re.search(r"up to 0\.\d+ MB", _sidebar_text(at))
    assert [t.number for t in _load().session_state[state.TAKES]] == [4, 5]


def test_folders_unused_for_the_kept_days_are_removed(browser, monkeypatch):
    root = persist.sessions_dir()
    now = time.time()

    def folder(name: str, days_ago: float, marker: bool = True):
        path = root / name
        path.mkdir(parents=True)
        (path / "settings.json").write_text("{}")
        stamp = now - days_ago * persist.DAY_S
        if marker:
            (path / persist.MARKER).touch()
            os.utime(path / persist.MARKER, (stamp, stamp))
        else:
            os.utime(path, (stamp, stamp))
        return path

    old, recent, unmarked = folder("a" * 64, 31), folder("b" * 64, 20), folder("c" * 64, 45, marker=False)
    foreign = folder("not-a-session", 400)
    assert set(persist.sweep_expired(now)) == {old, unmarked}
    assert recent.exists() and foreign.exists()
    monkeypatch.setenv(persist.DAYS_ENV, "10")
    assert persist.sweep_expired(now) == [recent]
    monkeypatch.setenv(persist.DAYS_ENV, "soon")  # not a number: the default, and a log line
    assert persist.keep_days() == persist.DEFAULT_DAYS
    monkeypatch.setenv(persist.LIMIT_ENV, "-5")
    assert persist.limit_mb() == persist.DEFAULT_LIMIT_MB
    monkeypatch.setenv(persist.LIMIT_ENV, "50")
    assert persist.limit_mb() == 50


def test_start_fresh_empties_this_browser_here_and_on_the_server(browser):
    at = _load()
    at.session_state[state.TAKES] = [_take(1)]
    at.number_input(key=state.setting_key("seed")).set_value(9).run()
    assert _files(browser, "takes")
    _button(at, "Yes, start fresh").click().run()
    assert not at.exception
    assert at.session_state[state.TAKES] == [] and at.number_input(key=state.setting_key("seed")).value == 0
    assert not _files(browser, "takes")
    again = _load()
    assert again.session_state[state.TAKES] == [] and again.number_input(key=state.setting_key("seed")).value == 0


def test_delete_everything_kept_on_the_server_and_keep_again(browser):
    at = _load()
    at.session_state[state.TAKES] = [_take(1)]
    at.run()
    assert browser.is_dir()
    _button(at, "Yes, delete them").click().run()
    marks = {"visited", persist.OFF_MARKER}  # no work: only that the browser was seen and wants nothing kept
    assert {p.name for p in browser.rglob("*")} == marks
    assert len(at.session_state[state.TAKES]) == 1  # this tab keeps what it shows
    at.session_state[state.TAKES] = [*at.session_state[state.TAKES], _take(2)]
    at.run()
    assert {p.name for p in browser.rglob("*")} == marks  # ... and keeps nothing more on the server
    assert "a refresh loses it" in _sidebar_text(at)
    refreshed = _load()  # a refresh (a new session of the same browser) keeps nothing either
    assert refreshed.session_state[state.TAKES] == [] and "a refresh loses it" in _sidebar_text(refreshed)
    _button(at, "Keep my work on the server again").click().run()
    assert _kept_numbers(browser) == [1, 2] and not (browser / persist.OFF_MARKER).exists()


def test_download_everything_holds_every_kind(browser):
    from neurotunes.bundle import ModelBundle, load_bundle
    from neurotunes.midi_io import midi_to_score

    at = _load()
    assert [b.label for b in at.sidebar.get("download_button")] == ["Download everything"]
    melody = make_score(pitches=(60, 62, 64))
    bundle = load_bundle("fiddle")
    data = persist.everything_zip([_take(1), _take(2)], {"hum.wav": state.Transcription("hum.wav", b"RIFF", melody)},
                                  {"piece one.mid": melody}, {MODEL: bundle},
                                  {"gen_seed": 4, "gen_pitch_low": (40, 80)})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
        assert names == ["dataset/piece-one.mid", "models/My-model-abc123.zip", "settings.json",
                         "takes/take1-Bach-chorales-LSTM-seed1.mid", "takes/take2-Bach-chorales-LSTM-seed2.mid",
                         "transcriptions/hum-transcription.mid", "transcriptions/hum.wav"]
        assert [n.pitch for n in midi_to_score(zf.read("dataset/piece-one.mid")).notes] == [60, 62, 64]
        assert len(midi_to_score(zf.read("takes/take2-Bach-chorales-LSTM-seed2.mid"))) == 16
        assert ModelBundle.from_zip(zf.read("models/My-model-abc123.zip")).hash == bundle.hash
        assert zf.read("transcriptions/hum.wav") == b"RIFF"
        assert json.loads(zf.read("settings.json")) == {"gen_seed": 4, "gen_pitch_low": {"tuple": [40, 80]}}


def test_a_refresh_and_a_new_tab_bring_back_takes_and_transcriptions_in_a_real_browser(tmp_path):
    from playwright.sync_api import expect

    from neurotunes.render import score_to_wav
    from tests.browser_utils import ARTIFACTS, chromium, streamlit_server, wait_idle

    expired = tmp_path / "sessions" / ("e" * 64)  # a browser not seen for 40 days: gone at the server's start
    expired.mkdir(parents=True)
    (expired / persist.MARKER).touch()
    os.utime(expired / persist.MARKER, (time.time() - 40 * persist.DAY_S,) * 2)
    wav = tmp_path / "my-melody.wav"
    wav.write_bytes(score_to_wav(make_score(pitches=(60, 64, 67, 72, 67, 64, 60), step=0.4, dur=0.35)))
    with streamlit_server(tmp_path, name="persist-server") as url, chromium() as browser:
        expect.set_options(timeout=60_000)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("kept on this server for this browser: up to 200 MB")).to_be_visible()
        page.get_by_test_id("stSlider").filter(has_text="Length (notes)").get_by_role("slider").press("Home")
        page.get_by_role("spinbutton", name="Seed").fill("7")
        page.get_by_role("spinbutton", name="Seed").press("Tab")  # typed, then left: the form holds 7
        wait_idle(page)
        page.get_by_role("button", name="Generate").click()
        take = page.get_by_role("heading", name=re.compile(r"^Take 1\b"))
        expect(take).to_be_visible()
        expect(page.get_by_text("seed 7").first).to_be_visible()
        page.get_by_role("link", name="Transcribe").click()
        page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files(str(wav))
        expect(page.get_by_text("my-melody.wav").first).to_be_visible()
        page.get_by_text("Basic Pitch settings").click()
        onset = page.get_by_test_id("stSlider").filter(has_text="Onset threshold").get_by_role("slider")
        onset.press("ArrowLeft")  # 0.5 -> 0.45
        expect(onset).to_have_value("0.45")
        wait_idle(page)  # the slider's rerun done: a click during it can be lost
        page.get_by_role("button", name=re.compile(r"Transcribe$")).click()
        melody = page.get_by_role("heading", name="my-melody.wav")
        expect(melody).to_be_visible(timeout=180_000)  # Basic Pitch's first load
        expect(sidebar.get_by_text("Transcriptions: 1 · In dataset: 0 · Takes: 1")).to_be_visible()
        assert not expired.exists()
        page.get_by_role("link", name="Generate").click()  # a page switch in the same session
        expect(page.get_by_role("spinbutton", name="Seed")).to_have_value("7")
        page.get_by_role("link", name="Transcribe").click()
        expect(melody).to_be_visible()

        page.reload()  # F5
        expect(melody).to_be_visible()
        page.get_by_text("Basic Pitch settings").click()
        expect(onset).to_have_value("0.45")
        expect(sidebar.get_by_text("Transcriptions: 1 · In dataset: 0 · Takes: 1")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "persist-after-refresh.png"), full_page=True)
        page.get_by_role("link", name="Generate").click()
        expect(take).to_be_visible()
        expect(page.get_by_role("spinbutton", name="Seed")).to_have_value("7")

        tab = context.new_page()  # a new tab of the same browser
        tab.goto(url)
        expect(tab.get_by_role("heading", name=re.compile(r"^Take 1\b"))).to_be_visible()
        expect(tab.get_by_role("spinbutton", name="Seed")).to_have_value("7")
        expect(tab).to_have_url(re.compile(r"seed=7"))  # the take's share link, in the address bar
        tab.reload()  # F5 on that address: the take is back, and its link does not make it a second time
        expect(tab.get_by_role("heading", name=re.compile(r"^Take 1\b"))).to_be_visible()
        expect(tab.get_by_test_id("stSidebar").get_by_text("Takes: 1")).to_be_visible()
        tab.get_by_role("link", name="Transcribe").click()
        expect(tab.get_by_role("heading", name="my-melody.wav")).to_be_visible()
        tab.screenshot(path=str(ARTIFACTS / "persist-new-tab.png"), full_page=True)

        tab_sidebar = tab.get_by_test_id("stSidebar")
        tab_sidebar.get_by_text("Your work", exact=True).click()
        tab_sidebar.get_by_role("button", name=re.compile(r"Start fresh$")).click()
        tab.get_by_role("button", name="Yes, start fresh").click()
        expect(tab.get_by_text("Upload a recording (or record one)")).to_be_visible()
        expect(tab.get_by_role("button", name="Yes, start fresh")).to_be_hidden()  # the question closes with it
        expect(tab_sidebar.get_by_text("Transcriptions: 0 · In dataset: 0 · Takes: 0")).to_be_visible()
        tab.screenshot(path=str(ARTIFACTS / "persist-start-fresh.png"), full_page=True)
        page.goto(url)  # the first tab, loaded again: nothing left on the server
        expect(page.get_by_text("No takes yet")).to_be_visible()
        page.get_by_role("link", name="Transcribe").click()
        expect(page.get_by_text("Upload a recording (or record one)")).to_be_visible()
        page.get_by_role("link", name="Generate").click()
        expect(page.get_by_role("spinbutton", name="Seed")).to_have_value("0")
