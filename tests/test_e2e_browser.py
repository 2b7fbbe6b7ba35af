"""One real-browser run of the whole loop: Debian's Chromium driven by Playwright.

Starts the app with Streamlit on a free local port, uploads a recording made by
the test (FluidSynth rendering of a known melody), transcribes it, generates a
track and checks that audio players and piano rolls appear.  Screenshots land in
test-artifacts/.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, make_score

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]


@contextlib.contextmanager
def browser_page(name: str, *extra_args: str, permissions: tuple[str, ...] = ()):
    """A page in Debian's headless Chromium (nothing phoning home: the machine has no network).

    On failure a screenshot lands in test-artifacts/failure-NAME.png.
    """
    from playwright.sync_api import expect, sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is required (bash run.sh test installs it)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*BROWSER_ARGS, *extra_args])
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=list(permissions))
        page = context.new_page()
        page.set_default_timeout(120_000)
        expect.set_options(timeout=60_000)
        try:
            yield page
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"failure-{name}.png"), full_page=True)
            raise
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "server.log", "wb")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (ARTIFACTS / "server.log").read_text(errors="replace")[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_upload_transcribe_generate_listen(server, tmp_path):
    from neurotunes.render import score_to_wav

    wav = tmp_path / "my-melody.wav"
    wav.write_bytes(score_to_wav(make_score(pitches=(60, 64, 67, 72, 67, 64, 60), step=0.4, dur=0.35)))
    junk = tmp_path / "broken.mp3"
    junk.write_bytes(b"this is not audio")
    with browser_page("loop") as page:
        first_paint = _walk_through(page, server, wav, junk)
    assert first_paint < 30


def _walk_through(page, server, wav, junk) -> float:
    """The user's path through the app; returns seconds until the first page showed."""
    from playwright.sync_api import expect

    start = time.time()
    page.goto(server)
    expect(page.get_by_role("heading", name="Generate")).to_be_visible()
    first_paint = time.time() - start

    # Transcribe: one good file and one broken one.
    page.goto(server + "/transcribe")
    expect(page.get_by_role("heading", name="Transcribe")).to_be_visible()
    page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files([str(wav), str(junk)])
    expect(page.get_by_text("my-melody.wav").first).to_be_visible()
    page.get_by_role("button", name="Transcribe").click()
    expect(page.get_by_text("Could not transcribe broken.mp3")).to_be_visible()
    # One player with an A/B switch: the original recording (A) and the rendering (B), both decodable.
    ab = page.frame_locator("iframe").first
    expect(ab.locator("canvas#notes")).to_be_visible()
    expect(ab.locator("#ab button")).to_have_count(2)
    expect(ab.locator("audio")).to_have_js_property("readyState", 4)  # B, the rendering
    ab.get_by_role("button", name="A · original recording").click()
    expect(ab.locator("body")).to_have_attribute("data-side", "A")
    expect(ab.locator("audio")).to_have_js_property("readyState", 4)  # A, the recording, served and decodable
    expect(page.locator(".js-plotly-plot")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "transcribe.png"), full_page=True)
    page.get_by_role("button", name="Add to my dataset").click()
    expect(page.get_by_role("button", name="In dataset ✓")).to_be_visible()

    # Generate with the shipped model: player and piano roll appear.
    page.get_by_role("link", name="Generate").click()
    expect(page.get_by_role("heading", name="Generate")).to_be_visible()
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("heading", name="Take 1")).to_be_visible()
    _play_along(page)
    page.get_by_role("tab", name="Zoom and inspect").click()
    roll = page.get_by_role("tabpanel").locator(".js-plotly-plot")
    expect(roll).to_be_visible()
    assert roll.bounding_box()["width"] > 400  # drawn at full width although it sat in a hidden tab
    page.get_by_role("tab", name="Play along").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="MIDI").click()
    assert download.value.suggested_filename == "neurotunes-Bach-chorales-four-voices-take1-seed0-temp1.0.mid"
    with page.expect_download() as wav:  # rendered only now, when asked for
        page.get_by_role("button", name="WAV (44.1 kHz)").click()
    assert wav.value.suggested_filename.endswith(".wav")
    with open(wav.value.path(), "rb") as f:
        assert f.read(4) == b"RIFF"
    page.screenshot(path=str(ARTIFACTS / "generate.png"), full_page=True)
    # The share link, opened in a fresh page (a new session), regenerates the same take.
    link = page.locator("code").filter(has_text="?model=default").first.inner_text().strip()
    assert link.startswith(server), link
    shared = page.context.new_page()
    shared.goto(link)
    expect(shared.get_by_role("heading", name="Take 1")).to_be_visible()
    expect(shared.get_by_text("seed 0 · 200 notes")).to_be_visible()
    shared.close()
    # Moving between pages lost nothing: the transcription is still there.
    page.get_by_role("link", name="Transcribe").click()
    expect(page.get_by_role("button", name="In dataset ✓")).to_be_visible()
    return first_paint


def _play_along(page) -> None:
    """The play-along player: its playhead follows the audio, a click on the roll seeks, hover names a note."""
    from playwright.sync_api import expect

    player = page.frame_locator("iframe").first
    expect(player.locator("canvas#notes")).to_be_visible()
    frame = next(f for f in page.frames if f.url.startswith("about:srcdoc"))
    expect(player.locator("audio")).to_have_js_property("readyState", 4)  # the inline MP3 decoded
    wrap = player.locator("#wrap")
    wrap.scroll_into_view_if_needed()
    box = wrap.bounding_box()
    # Click half-way along the roll: the audio jumps there and plays; the playhead follows its clock.
    page.mouse.click(box["x"] + 46 + (box["width"] - 54) / 2, box["y"] + box["height"] / 2)
    duration = frame.evaluate("document.getElementById('audio').duration")
    page.wait_for_timeout(1500)
    now = frame.evaluate("document.getElementById('audio').currentTime")
    assert duration / 2 - 1 < now < duration / 2 + 3
    head = float(frame.evaluate("document.getElementById('wrap').dataset.playhead"))
    assert abs(head - frame.evaluate("document.getElementById('audio').currentTime")) < 0.5
    frame.evaluate("document.getElementById('audio').pause()")
    # Hover over the first note: it answers with its name.
    x, y = frame.evaluate("window.neurotunesRoll.at(0)")
    page.mouse.move(box["x"] + x, box["y"] + y)
    expect(player.locator("#tip")).to_contain_text("velocity")
    page.screenshot(path=str(ARTIFACTS / "play-along.png"))


def test_microphone_recording_is_transcribed(server, tmp_path):
    """Chromium's fake microphone plays a rendered melody into st.audio_input; the page transcribes it."""
    from playwright.sync_api import expect

    from neurotunes.render import score_to_wav

    melody = tmp_path / "hum.wav"
    melody.write_bytes(score_to_wav(make_score(pitches=(60, 64, 67, 72, 67, 64, 60), step=0.4, dur=0.35),
                                    sample_rate=48_000))
    fake_mic = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={melody}%noloop")
    with browser_page("microphone", *fake_mic, permissions=("microphone",)) as page:
        page.goto(server + "/transcribe")
        page.get_by_role("tab", name="Record").click()
        page.get_by_role("button", name="Record").first.click()
        page.wait_for_timeout(4_000)  # the melody lasts 3.2 s
        page.get_by_role("button", name="Stop recording").first.click()
        page.get_by_role("button", name="Transcribe recording").click()
        expect(page.get_by_role("heading", name="recording-1.wav")).to_be_visible()
        ab = page.frame_locator("iframe").first
        expect(ab.locator("canvas#notes")).to_be_visible()
        expect(ab.locator("#ab button")).to_have_count(2)  # the recording and its transcription, one switch
        notes = page.get_by_test_id("stMetricValue").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "microphone.png"), full_page=True)
    assert int(notes) >= 5


def test_bad_uploads_get_messages_and_lose_nothing(server, tmp_path):
    """A junk model bundle and a broken MIDI among good files: clear messages, the good files still count."""
    from playwright.sync_api import expect

    from neurotunes.midi_io import score_to_midi

    junk_bundle = tmp_path / "model.zip"
    junk_bundle.write_bytes(b"PK\x03\x04 this is not a real archive")
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    good = tmp_path / "good.mid"
    good.write_bytes(score_to_midi(make_score(pitches=tuple(range(60, 80)), step=0.25, dur=0.25)))
    tune = tmp_path / "tune.abc"
    tune.write_bytes(b"X:1\nT:Reel\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n")
    with browser_page("uploads") as page:
        page.goto(server + "/train")
        page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files(str(junk_bundle))
        page.get_by_role("button", name="Load this model").click()
        expect(page.get_by_text("Could not load model.zip")).to_be_visible()
        expect(page.get_by_text("Bach chorales, four voices (shipped)")).to_be_visible()  # still the active model

        page.get_by_role("link", name="Dataset").click()
        expect(page.get_by_text("Gather the music a model learns from")).to_be_visible()
        page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files([str(broken), str(good), str(tune)])
        expect(page.get_by_text("tune.abc").first).to_be_visible()
        page.get_by_role("button", name="Build dataset").click()
        expect(page.get_by_text("Skipped 1 file(s)")).to_be_visible()
        expect(page.get_by_text("broken.mid could not be read as MIDI")).to_be_visible()
        expect(page.get_by_text("2 uploaded pieces")).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(3)
        page.screenshot(path=str(ARTIFACTS / "dataset.png"), full_page=True)
