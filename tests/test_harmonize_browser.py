"""The Harmonize page in Chromium: a MIDI tune uploaded, harmonized by the shipped chorale model, heard on the
play-along player and read on four staves.  Screenshots land in test-artifacts/harmonize-*.png."""

import pytest

from tests.browser_utils import ARTIFACTS, chromium, streamlit_server

pytestmark = pytest.mark.slow
#: "Ode to Joy" in D, quarter notes.
ODE = (66, 66, 67, 69, 69, 67, 66, 64, 62, 62, 64, 66, 66, 64, 64)


def test_an_uploaded_tune_comes_back_in_four_voices(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from neurotunes.keys import Key
    from neurotunes.midi_io import write_midi
    from neurotunes.score import Note, Score

    spb = 60 / 90
    tune = Score(notes=tuple(Note(start=i * spb, end=(i + 1) * spb, pitch=p) for i, p in enumerate(ODE)),
                 tempo_bpm=90.0, key=Key.parse("D major"))
    midi = write_midi(tune, tmp_path / "ode-to-joy.mid")
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    with streamlit_server(tmp_path, name="harmonize-server") as url, chromium() as browser:
        expect.set_options(timeout=60_000)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/harmonize")
        expect(page.get_by_role("heading", name="Harmonize")).to_be_visible()
        page.get_by_text("A MIDI, MusicXML or ABC file").click()
        uploader = page.get_by_test_id("stMain").get_by_test_id("stFileUploader").filter(has_text="The tune as notes")
        uploader.locator("input[type=file]").set_input_files(str(midi))
        expect(uploader.get_by_test_id("stFileChipName")).to_have_text("ode-to-joy.mid")
        page.get_by_role("button", name="Harmonize").click()
        expect(page.get_by_role("heading", name="ode-to-joy, harmonized")).to_be_visible()
        player = page.frame_locator("iframe").first
        expect(player.locator("audio")).to_have_count(1)
        page.get_by_text("Sheet music").click()
        sheet = page.get_by_test_id("stImage").first
        expect(sheet).to_be_visible()
        expect(page.get_by_role("button", name="MusicXML")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "harmonize-page.png"), full_page=True)
        src = sheet.locator("img").get_attribute("src") or ""
        assert src, "no engraved page"
