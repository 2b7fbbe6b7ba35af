"""The Generate page in a real browser: the new take comes into view, a share link lands, two takes compare.

Debian's headless Chromium (Playwright) against ``streamlit run app.py`` with a data folder of its own.
What AppTest cannot see is checked here: the page really scrolls the new take's heading and player into
view (on a laptop's 1280 x 800 and a phone's 390 x 844), the sidebar counts the new take at once, a share
link shows its banner with the form filled and the take above the form, and the comparison plays both
takes from one button on one time scale.  Screenshots land in test-artifacts/generate-*.png.
"""

from urllib.parse import urlencode

import pytest

from tests.browser_utils import ARTIFACTS, chromium, streamlit_server

pytestmark = pytest.mark.slow
LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
#: The new take's heading near the top (under Streamlit's header), its player right below it.
HEADING_AT_TOP = """id => {
  const el = document.getElementById(id);
  if (!el) return false;
  const top = el.getBoundingClientRect().top;
  return top >= 0 && top < 200;
}"""
PLAYER_IN_VIEW = """id => {
  const heading = document.getElementById(id);
  const player = Array.from(document.querySelectorAll("iframe"))
    .find(f => f.getBoundingClientRect().top > heading.getBoundingClientRect().top);
  if (!player) return false;
  const box = player.getBoundingClientRect();
  return box.height > 200 && box.top < window.innerHeight - 150;
}"""


def _shot(page, name: str) -> None:
    """A screenshot for people to look at (not a check: a starved machine may take too long to paint one)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.screenshot(path=str(ARTIFACTS / f"generate-{name}.png"), timeout=60_000)
    except PlaywrightTimeout:
        pass


def _length(page, notes: int) -> None:
    """Set the Length slider with the keyboard: Home is 10 notes, each arrow step 10 more."""
    slider = page.get_by_test_id("stSlider").filter(has_text="Length (notes)").get_by_role("slider")
    slider.press("Home")
    for _ in range((notes - 10) // 10):
        slider.press("ArrowRight")


def _slider_value(page, label: str) -> str:
    return page.get_by_test_id("stSlider").filter(has_text=label).locator("input[type=range]").input_value()


def _generate_and_see(page, number: int, shot: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("heading", name=f"Take {number} ·")).to_be_attached()
    page.wait_for_function(HEADING_AT_TOP, arg=f"take-{number}", timeout=90_000)
    page.wait_for_function(PLAYER_IN_VIEW, arg=f"take-{number}", timeout=90_000)
    _shot(page, shot)


def test_new_takes_come_into_view_share_links_land_and_takes_compare(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from neurotunes.bundle import load_bundle
    from neurotunes.config import GenerateConfig
    from neurotunes.share import share_params

    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    with streamlit_server(tmp_path, name="generate-page-server") as url, chromium() as browser:
        expect.set_options(timeout=90_000)

        # A phone: the take comes into view under the form.
        phone = browser.new_context(viewport=PHONE).new_page()
        phone.goto(url)
        _length(phone, 40)
        _generate_and_see(phone, 1, "phone")

        # A laptop: Generate, then two takes at once; the newest is chosen, in view, and counted at once.
        page = browser.new_context(viewport=LAPTOP).new_page()
        page.goto(url)
        _length(page, 40)
        _generate_and_see(page, 1, "laptop-take1")
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar).to_contain_text("Takes: 1")
        page.get_by_role("spinbutton", name="Takes at once").fill("2")
        _generate_and_see(page, 3, "laptop-take3")
        expect(page.get_by_role("radio", name="Take 3 · temp 1.0 · seed 1 · 40 notes")).to_be_checked()
        expect(page.get_by_role("heading", name="Take 3 · temp 1.0 · seed 1 · 40 notes")).to_be_visible()
        expect(sidebar).to_contain_text("Takes: 3")

        # Compare: one play button plays both takes on one time scale; A or B is heard at the same moment.
        page.get_by_text("Compare with another take").click()
        compare = page.frame_locator("iframe[srcdoc*='neurotunesCompare']")
        play = compare.locator("#play")
        play.scroll_into_view_if_needed()
        expect(compare.locator("#a1")).to_have_js_property("readyState", 4)
        frame = next(f for f in page.frames if f.url.startswith("about:srcdoc")
                     and f.evaluate("!!window.neurotunesCompare"))
        same_scale = frame.evaluate("[1, 2.5, 4].map(t => neurotunesCompare.rolls.map(roll => roll.x(t)))")
        assert all(abs(a - b) < 0.01 for a, b in same_scale), same_scale
        play.click()
        page.wait_for_timeout(2000)
        times, muted, paused = frame.evaluate("['currentTime', 'muted', 'paused'].map("
                                              "k => neurotunesCompare.audios.map(a => a[k]))")
        assert times[0] > 1.0 and abs(times[0] - times[1]) < 0.3, times  # both run, in step
        assert muted == [False, True] and paused == [False, False]  # A heard, B silent at the same spot
        compare.locator("#pick button[data-hear='1']").click()
        assert frame.evaluate("neurotunesCompare.audios.map(a => a.muted)") == [True, False]
        _shot(page, "compare")
        play.click()
        page.wait_for_timeout(300)
        assert frame.evaluate("neurotunesCompare.audios.every(a => a.paused)")

        # "Why this note?" is worked out only when opened, and stays open while the user steps through notes.
        ringed = page.locator("iframe[srcdoc*='\"highlight\":[']:not([srcdoc*='\"highlight\":[]'])")
        expect(ringed).to_have_count(0)
        page.get_by_text("Why this note?").click()
        expect(ringed).to_have_count(1)
        expect(page.get_by_text("Note 1 of 40:")).to_be_visible()
        page.locator("input[type=range][aria-label='Note']").press("ArrowRight")
        expect(page.get_by_text("Note 2 of 40:")).to_be_visible()
        expect(ringed).to_have_count(1)

        # A share link: the banner names the model and settings, the form holds them, the take is on top.
        link = GenerateConfig(temperature=1.3, seed=2, length=30)
        params = share_params("default", load_bundle("default").hash, link)
        shared = browser.new_context(viewport=LAPTOP).new_page()
        shared.goto(f"{url}/?{urlencode(params)}")
        banner = shared.get_by_test_id("stMarkdownContainer").filter(has_text="Shared with you:")
        expect(banner).to_contain_text("Bach chorales, four voices, temperature 1.3, seed 2, 30 notes")
        expect(shared.frame_locator("iframe").first.locator("canvas#notes")).to_be_visible()
        assert _slider_value(shared, "Temperature") == "1.3" and _slider_value(shared, "Length (notes)") == "30"
        expect(shared.get_by_role("spinbutton", name="Seed")).to_have_value("2")
        form_top = shared.get_by_role("button", name="Generate").bounding_box()["y"]
        player_top = shared.locator("iframe").first.bounding_box()["y"]
        assert banner.bounding_box()["y"] < player_top < form_top  # banner, then the take, then the form
        make_your_own = shared.get_by_role("button", name="Make your own")
        assert abs(make_your_own.bounding_box()["y"] - banner.bounding_box()["y"]) < 60  # beside the banner
        _shot(shared, "shared")
        make_your_own.click()
        expect(banner).to_have_count(0)
        shared.wait_for_function("() => !location.search.includes('model=')")
        assert _slider_value(shared, "Temperature") == "1.3"  # the form kept the link's settings
        expect(shared.get_by_role("heading", name="Take 1 · temp 1.3 · seed 2 · 30 notes")).to_be_visible()
