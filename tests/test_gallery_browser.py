"""The gallery in a real browser: ownership, one track per take, delete with undo, Continue in Generate.

Debian's headless Chromium (Playwright) against ``streamlit run app.py`` with a
gallery of its own.  Visitor A saves a take from the Generate page (the button
then says "Saved", and making the same take again finds it saved); the browser
keeps A's secret in a cookie.  Visitor B (another browser context: other
cookies) sees the track, its piano roll and share link, without a Delete button,
and cannot delete it with its own secret; A, after reloading, still has its
Delete button, deletes it after confirming, undoes that, and opens the track in
Generate, where it plays, continues and shares like any take.
"""

import re
import time

import pytest

from neurotunes import gallery
from neurotunes.gallery import GalleryError
from neurotunes.ui.visitor import COOKIE, is_valid_secret
from tests.browser_utils import ARTIFACTS, chromium, streamlit_server

pytestmark = pytest.mark.slow
TITLE = "Alice's <b>tune</b>"
WRITES_COOKIE = f"Array.from(document.scripts).some(s => s.text.includes('{COOKIE}='))"


def _secret(context) -> str:
    values = [c["value"] for c in context.cookies() if c["name"] == COOKIE]
    assert len(values) == 1 and is_valid_secret(values[0]), values
    return values[0]


def test_only_the_saving_browser_can_delete(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))  # the library below reads the server's gallery
    start = time.time()
    with streamlit_server(tmp_path, env={gallery.ADMIN_PASSWORD_ENV: ""}, name="gallery-server") as url, \
            chromium() as browser:
        expect.set_options(timeout=30_000)
        alice = browser.new_context(viewport={"width": 1400, "height": 1000})
        a = alice.new_page()
        a.goto(url)
        length = a.get_by_test_id("stSlider").filter(has_text="Length (notes)").get_by_role("slider")
        length.press("Home")  # the shortest take: this test is about who saved it
        a.get_by_role("button", name="Generate").click()
        expect(a.get_by_role("heading", name="Take 1")).to_be_visible(timeout=60_000)
        a.get_by_label("Title").fill(TITLE)
        a.get_by_role("button", name="Save to gallery").click()
        expect(a.get_by_role("button", name="Saved")).to_be_disabled()  # one save per take
        a.get_by_role("button", name="Generate").click()  # the same settings and seed: the same take again ...
        expect(a.get_by_role("heading", name="Take 2")).to_be_visible(timeout=60_000)
        expect(a.get_by_role("button", name="Saved")).to_be_disabled()  # ... is saved already
        expect(a.get_by_role("button", name="Save to gallery")).to_have_count(0)
        share = a.get_by_test_id("stCode").filter(has_text="model=default").inner_text()
        a.wait_for_function(f"document.cookie.includes('{COOKIE}=')")  # st.html runs its script once loaded
        alice_secret = _secret(alice)  # written by the page's script, SameSite=Strict, never shown
        assert alice_secret not in a.locator("body").inner_text()
        [track] = gallery.list_tracks(owner=alice_secret)
        assert track.title == TITLE and track.mine

        bob = browser.new_context(viewport={"width": 1400, "height": 1000})
        b = bob.new_page()
        b.goto(url + "/gallery")
        expect(b.get_by_text(TITLE, exact=True)).to_be_visible()  # a title is plain text, never HTML
        expect(b.get_by_text("Listen")).to_be_visible()
        expect(b.get_by_role("button", name="Delete")).to_have_count(0)
        expect(b.get_by_test_id("stAudio")).to_have_count(0)  # no audio sent until someone listens
        expect(b.get_by_test_id("stImage").locator("img")).to_be_visible()  # the piano roll
        assert b.get_by_test_id("stCode").inner_text().split("?")[1] == share.split("?")[1]  # the take's link
        b.screenshot(path=str(ARTIFACTS / "gallery-other-visitor.png"), full_page=True)
        with b.expect_download() as download:  # read from the database only now, by the button's callable
            b.get_by_role("button", name="MP3").click()
        assert download.value.suggested_filename == "Alice-s-b-tune-b.mp3"
        assert open(download.value.path(), "rb").read() == gallery.track_files(track.id)[1]
        b.wait_for_function(f"document.cookie.includes('{COOKIE}=')")
        assert b.evaluate(WRITES_COOKIE)  # a first visit: the page writes the cookie
        bob_secret = _secret(bob)
        assert bob_secret != alice_secret
        with pytest.raises(GalleryError, match="only the browser that saved"):
            gallery.delete_track(track.id, owner=bob_secret)

        # A fresh page load is a new Streamlit session: the secret comes back from the cookie.
        a.goto(url + "/gallery")
        a.reload()
        expect(a.get_by_text(TITLE, exact=True)).to_be_visible()
        expect(a.get_by_role("button", name="Delete")).to_have_count(1)
        assert _secret(alice) == alice_secret
        # Adopted from the cookie, not made again: the page had no cookie to write this time.
        assert not a.evaluate(WRITES_COOKIE)
        a.get_by_text("Listen").click()
        expect(a.get_by_test_id("stAudio")).to_have_count(1)
        a.screenshot(path=str(ARTIFACTS / "gallery-owner.png"), full_page=True)
        a.get_by_role("button", name="Delete").click()  # opens the question; nothing is deleted yet
        expect(a.get_by_text("Delete it for everyone?")).to_be_visible()
        assert gallery.count_tracks() == 1
        a.get_by_role("button", name="Yes, delete").click()
        expect(a.get_by_role("button", name="Undo")).to_be_visible()
        expect(a.get_by_text("you can undo this for 10 more minutes")).to_be_visible()
        expect(a.get_by_role("button", name="Continue in Generate")).to_have_count(0)
        a.screenshot(path=str(ARTIFACTS / "gallery-deleted.png"), full_page=True)
        assert gallery.count_tracks() == 0
        b.reload()
        expect(b.get_by_text("Nothing saved yet")).to_be_visible()  # gone for everyone else at once
        a.get_by_role("button", name="Undo").click()
        expect(a.get_by_role("button", name="Continue in Generate")).to_be_visible()
        assert [t.title for t in gallery.list_tracks()] == [TITLE]
        b.reload()
        expect(b.get_by_text(TITLE, exact=True)).to_be_visible()

        a.get_by_role("button", name="Continue in Generate").click()
        expect(a.get_by_role("heading", name="Generate")).to_be_visible()
        expect(a.get_by_role("button", name="Saved")).to_be_disabled(timeout=60_000)  # the track, as a take
        expect(a.locator("iframe")).to_have_count(1)  # in the play-along player
        assert a.get_by_test_id("stCode").filter(has_text="model=default").inner_text() == share  # same link
        a.get_by_role("button", name="Continue this take").click()
        expect(a.get_by_text(re.compile(r"continues take \d+"))).to_be_visible(timeout=60_000)
        expect(a.get_by_role("button", name="Save to gallery")).to_be_enabled()  # new music: not saved yet
        a.screenshot(path=str(ARTIFACTS / "gallery-continued.png"), full_page=True)
        assert gallery.count_tracks() == 1
    assert time.time() - start < 180
