"""The README's "First five minutes": its screenshot, and the page it describes, in a real browser.

Debian's headless Chromium (Playwright) against ``streamlit run app.py``: open the app, press
Generate, wait for the take.  Every name the section puts in bold (the page, buttons, sliders,
tabs and captions a newcomer is told to look for) must be on that page.  With
``NEUROTUNES_UPDATE_SCREENSHOT=1`` the test saves the page as ``assets/screenshot.png`` (the
README's picture); otherwise it checks that the file is there, is a PNG of a sensible size,
and is the picture the README shows.
"""

import os
import re
import struct
import time

import pytest

from tests.browser_utils import ARTIFACTS, chromium, streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
README = ROOT / "README.md"
SCREENSHOT = ROOT / "assets" / "screenshot.png"
UPDATE = os.environ.get("NEUROTUNES_UPDATE_SCREENSHOT") == "1"
VIEWPORT = {"width": 1280, "height": 800}
SECTION = "## First five minutes"
#: A screenshot of the viewport above at device scale 1: its exact size, and bounds on its bytes (a blank or
#: broken page compresses to a few kilobytes; a photo-like one would be megabytes).
MIN_BYTES, MAX_BYTES = 40_000, 1_500_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AUDIO_READY = """() => { const frame = document.querySelector("iframe");
    const audio = frame && frame.contentDocument.querySelector("audio");
    return audio && audio.readyState >= 1; }"""


SHOW_DEFAULT_ADDRESS = """base => {
  let n = 0;
  for (const el of document.querySelectorAll("code")) {
    if (el.textContent.startsWith(base)) { el.textContent = el.textContent.replace(base, "http://localhost:8501"); n++; }
  }
  return n;
}"""


def _section() -> str:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def _named_in_bold(section: str) -> list[str]:
    return sorted(set(re.findall(r"\*\*([^*]+)\*\*", section)))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_first_five_minutes_section_is_near_the_top_and_shows_the_screenshot():
    text = README.read_text()
    assert re.search(r"^## .*$", text, flags=re.M).group(0) == SECTION, "it must be the README's first section"
    section = _section()
    assert "](assets/screenshot.png)" in section
    steps = re.findall(r"^\d\. ", section, flags=re.M)
    assert len(steps) == 5, "open, Generate, listen, one slider, share"
    assert {"Generate", "Temperature", "Share link", "Save to gallery"} <= set(_named_in_bold(section))


def test_the_screenshot_and_the_page_it_shows(tmp_path):
    from playwright.sync_api import expect

    names = _named_in_bold(_section())
    start = time.time()
    with streamlit_server(tmp_path, name="readme-server") as url, chromium() as browser:
        expect.set_options(timeout=30_000)
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.goto(url)
        expect(page.get_by_role("heading", name="Generate")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Generate").click()  # the defaults, as a newcomer would
        expect(page.get_by_role("heading", name="Take 1")).to_be_visible(timeout=90_000)
        player = page.frame_locator("iframe").first
        expect(player.locator("audio")).to_have_count(1)
        page.wait_for_function(AUDIO_READY, timeout=30_000)  # the roll drawn, the audio ready to play
        missing = [name for name in names if not page.get_by_text(name).filter(visible=True).count()
                   and not page.get_by_role("button", name=name).count()]
        assert not missing, f"the README names what the page does not show: {missing}"
        page.get_by_role("heading", name="Take 1").scroll_into_view_if_needed()
        page.mouse.move(2, 2)  # off the Generate button: its help stays up while the pointer rests there
        page.wait_for_timeout(500)  # the scroll settles, the tooltip fades
        # The share link as a reader's own app shows it (`bash run.sh app` serves on Streamlit's 8501), not
        # this test server's free port: only the text drawn, after every check of the page above.
        shown = page.evaluate(SHOW_DEFAULT_ADDRESS, url)
        assert shown >= 1, "no share link on the page"
        shot = page.screenshot()
        (ARTIFACTS / "readme-screenshot.png").write_bytes(shot)
        if UPDATE:
            SCREENSHOT.write_bytes(shot)
    assert time.time() - start < 180
    assert SCREENSHOT.exists(), "run with NEUROTUNES_UPDATE_SCREENSHOT=1 to make assets/screenshot.png"
    data = SCREENSHOT.read_bytes()
    assert _png_size(data) == (VIEWPORT["width"], VIEWPORT["height"])
    assert MIN_BYTES <= len(data) <= MAX_BYTES, f"{len(data)} bytes: a blank or broken page?"
    assert MIN_BYTES <= len(shot) <= MAX_BYTES  # today's page is a real page too
