"""Keep third-party import-time prints off stdout.

pyfluidsynth (imported by us and by pretty_midi and basic_pitch) prints where it
found libfluidsynth to stdout whenever the ``CI`` environment variable is set.
Stdout belongs to the CLI's output (``--json``, MIDI written to ``-``), so such
prints are sent to the debug log instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Iterator


@contextlib.contextmanager
def prints_to_log(logger: logging.Logger) -> Iterator[None]:
    """Run the block with ``print`` captured; what it printed goes to ``logger.debug``."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            yield
    finally:
        text = said.getvalue().strip()
        if text:
            logger.debug("printed on import: %s", text)
