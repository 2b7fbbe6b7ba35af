"""The app at phone width (390 x 844), end to end, in a real browser.

Debian's headless Chromium (Playwright) against ``streamlit run app.py``: a visitor on a
phone-sized screen finds Generate above the fold, makes a take, saves it, opens the menu,
chooses the Gallery (the menu closes by itself), sees the track's piano roll and opens it in
Generate again.  The browser is a touch screen of that size with a desktop browser's user
agent (Streamlit closes its menu by itself only for a phone's); one check repeats with a
phone's user agent, where both Streamlit and our script want the menu closed.  Nothing on the
way is wider than the screen.  Screenshots go to test-artifacts/phone-*.png.
"""

import time

import pytest

from neurotunes import gallery
from neurotunes.ui.phone import NARROW_PX, PHONE_PX
from tests.browser_utils import ARTIFACTS, chromium, streamlit_server, wait_idle

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}
ANDROID_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Mobile Safari/537.36")
# How wide the page is: wider than the screen, and the page scrolls sideways.
WIDEST = """() => Math.max(document.documentElement.scrollWidth,
                         document.querySelector('[data-testid="stMain"]').scrollWidth)"""
MENU_IN_VIEW = "document.querySelector('[data-testid=\"stSidebar\"]').getBoundingClientRect().left >= 0"
TOPMOST_AT = "([x, y]) => document.elementFromPoint(x, y)?.closest('button')?.innerText ?? null"


def _menu(page):
    return page.get_by_test_id("stSidebar")


def _choose_page(page, name: str) -> None:
    """Open the menu and choose a page, as a thumb would."""
    from playwright.sync_api import expect

    page.get_by_test_id("stExpandSidebarButton").click()
    expect(_menu(page)).to_have_attribute("aria-expanded", "true")
    page.wait_for_function(MENU_IN_VIEW)  # slid in, over the page
    page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


def _fits(page, what: str) -> None:
    width = page.evaluate(WIDEST)
    assert width <= PHONE["width"], f"{what} is {width} px wide on a {PHONE['width']} px screen"


def test_a_phone_generates_saves_and_finds_it_in_the_gallery(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    assert PHONE["width"] < PHONE_PX <= NARROW_PX
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))  # the library below reads the server's gallery
    start = time.time()
    with streamlit_server(tmp_path, name="phone-server") as url, chromium() as browser:
        expect.set_options(timeout=30_000)
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(url)
        generate = page.get_by_role("button", name="Generate")
        expect(generate).to_be_visible(timeout=60_000)
        box = generate.bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"], f"Generate is below the fold: {box}"
        centre = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
        expect(generate).to_contain_text("Generate")
        assert "Generate" in page.evaluate(TOPMOST_AT, centre)  # in reach, not under anything
        assert page.get_by_test_id("stSlider").filter(has_text="Temperature").bounding_box()["y"] < PHONE["height"]
        _fits(page, "the Generate page")
        page.screenshot(path=str(ARTIFACTS / "phone-generate.png"))

        length = page.get_by_test_id("stSlider").filter(has_text="Length (notes)").get_by_role("slider")
        length.press("Home")  # a short take: this test is about the screen, not the music
        generate.click()
        expect(page.get_by_role("heading", name="Take 1")).to_be_visible(timeout=90_000)
        expect(page.locator("iframe")).to_have_count(1)  # the play-along player
        _fits(page, "a take")
        wait_idle(page)
        page.get_by_role("button", name="Save to gallery").click()
        expect(page.get_by_role("button", name="Saved")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "phone-take.png"))
        [track] = gallery.list_tracks()

        _choose_page(page, "Gallery")
        expect(_menu(page)).to_have_attribute("aria-expanded", "false")  # closed after choosing, by itself
        expect(page.get_by_text(track.title, exact=True)).to_be_visible()
        roll = page.get_by_test_id("stImage").locator("img")
        expect(roll).to_be_visible()
        assert roll.bounding_box()["width"] > PHONE["width"] * 0.7  # the piano roll spans the card
        expect(page.get_by_role("button", name="Continue in Generate")).to_be_visible()
        _fits(page, "the Gallery")
        page.screenshot(path=str(ARTIFACTS / "phone-gallery.png"), full_page=True)

        page.get_by_role("button", name="Continue in Generate").click()
        expect(page.get_by_role("heading", name="Take 2")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Saved")).to_be_visible()  # the same take, saved once
        _choose_page(page, "Transcribe")
        expect(_menu(page)).to_have_attribute("aria-expanded", "false")
        _fits(page, "the Transcribe page")
        context.close()

        # A phone's user agent: Streamlit closes the menu itself; the script must not open it again.
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, user_agent=ANDROID_UA)
        page = phone.new_page()
        page.goto(url + "/gallery")
        expect(page.get_by_role("heading", name="Gallery")).to_be_visible(timeout=60_000)
        _choose_page(page, "Dataset")
        page.wait_for_timeout(500)  # past the script's look at the menu
        expect(_menu(page)).to_have_attribute("aria-expanded", "false")

        # Wider than a phone, the menu sits beside the page and stays open after choosing.
        wide = browser.new_context(viewport={"width": 1200, "height": 900})
        page = wide.new_page()
        page.goto(url)
        expect(page.get_by_role("heading", name="Generate")).to_be_visible(timeout=60_000)
        page.get_by_test_id("stSidebarNav").get_by_text("Gallery", exact=True).click()
        expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
        page.wait_for_timeout(500)
        expect(_menu(page)).to_have_attribute("aria-expanded", "true")
    assert time.time() - start < 240
