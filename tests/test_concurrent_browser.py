"""Two visitors, one server, the same recording at the same time (a real browser, two contexts).

The analysis of a recording is shared by every session of the server; when it
lived in ``st.cache_data`` with a progress bar inside, the second visitor's page
crashed with ``CacheReplayClosureError`` (4 of 5 concurrent users in the hostile
run).  Here both visitors upload the same file and press Transcribe together:
both get their transcription, no error, and neither sees the other's work.
"""

import pytest

from tests.browser_utils import ARTIFACTS, chromium, streamlit_server
from tests.conftest import make_score

pytestmark = pytest.mark.slow


def test_two_visitors_transcribe_the_same_recording_at_once(tmp_path):
    from playwright.sync_api import expect

    from neurotunes.render import score_to_wav

    wav = tmp_path / "same-song.wav"
    wav.write_bytes(score_to_wav(make_score(pitches=(60, 64, 67, 72, 67, 64), step=0.4, dur=0.35)))
    with streamlit_server(tmp_path, name="concurrent-server") as url, chromium() as browser:
        expect.set_options(timeout=120_000)
        pages = []
        for _ in range(2):
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(url + "/transcribe")
            expect(page.get_by_role("heading", name="Transcribe", exact=True)).to_be_visible()
            page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files(str(wav))
            expect(page.get_by_text("same-song.wav").first).to_be_visible()
            pages.append(page)
        for page in pages:  # both press at once: one analysis, two transcriptions
            page.get_by_role("button", name="Transcribe").click()
        for i, page in enumerate(pages):
            expect(page.get_by_role("heading", name="same-song.wav")).to_be_visible()
            expect(page.get_by_text("Estimated tempo")).to_be_visible()
            assert page.get_by_test_id("stException").count() == 0
            assert page.get_by_test_id("stAlertContentError").count() == 0
            page.screenshot(path=str(ARTIFACTS / f"concurrent-transcribe-{i}.png"), full_page=True)
            # "Re-run with current settings": the cached analysis again, no crash
            page.get_by_role("button", name="Re-run with current settings").click()
            expect(page.get_by_role("heading", name="same-song.wav")).to_be_visible()
            page.wait_for_timeout(1000)
            assert page.get_by_test_id("stException").count() == 0
