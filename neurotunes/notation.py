"""Sheet music: MusicXML -> SVG pages with Verovio, offline (the only importer of verovio)."""

from __future__ import annotations

import logging
import os

from .errors import RenderError

log = logging.getLogger(__name__)

#: Verovio layout: a page as wide as the app's main column, scaled for screens.
PAGE_WIDTH = 2100
SCALE = 40
MAX_PAGES = 20


def musicxml_to_svg_pages(musicxml: bytes, *, max_pages: int = MAX_PAGES) -> list[str]:
    """Engrave MusicXML as SVG pages (at most ``max_pages``).

    Raises
    ------
    RenderError
        Verovio is missing or cannot read the file.
    """
    try:
        import verovio
    except ImportError:
        raise RenderError("sheet music needs the verovio package (pip install verovio)") from None

    toolkit = verovio.toolkit()
    # Verovio's font resources are set per thread on import; Streamlit runs pages in other threads.
    toolkit.setResourcePath(os.path.join(os.path.dirname(verovio.__file__), "data"))
    toolkit.setOptions({"pageWidth": PAGE_WIDTH, "scale": SCALE, "adjustPageHeight": True, "footer": "none",
                        "breaks": "auto"})
    if not toolkit.loadData(musicxml.decode("utf-8", errors="replace")):
        raise RenderError("Verovio could not read this MusicXML")
    pages = min(toolkit.getPageCount(), max_pages)
    return [_on_paper(toolkit.renderToSVG(page)) for page in range(1, pages + 1)]


def _on_paper(svg: str) -> str:
    """Verovio draws black on transparent; a white sheet keeps it readable on a dark page."""
    end = svg.find(">", svg.find("<svg"))
    return svg[: end + 1] + '<rect width="100%" height="100%" fill="white"/>' + svg[end + 1 :]
