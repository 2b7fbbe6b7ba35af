"""Keep third-party import-time prints off stdout.

pyfluidsynth (imported by us and by pretty_midi and basic_pitch) prints where it
found libfluidsynth to stdout whenever the ``CI`` environment variable is set.
Stdout belongs to the CLI's output (``--json``, MIDI written to ``-``), so such
prints are sent to the debug log instead.

``sys.stdout`` is process-wide and the app serves sessions from many threads,
so only first imports are redirected, one at a time; a module already imported
is returned without touching stdout.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import sys
import threading
from types import ModuleType
from typing import Iterator

_REDIRECT_LOCK = threading.Lock()  # two overlapping redirects could leave sys.stdout pointing at a buffer


@contextlib.contextmanager
def prints_to_log(logger: logging.Logger) -> Iterator[None]:
    """Run the block with ``print`` captured; what it printed goes to ``logger.debug``."""
    with _REDIRECT_LOCK:
        said = io.StringIO()
        try:
            with contextlib.redirect_stdout(said):
                yield
        finally:
            text = said.getvalue().strip()
            if text:
                logger.debug("printed on import: %s", text)


def quiet_import(name: str, logger: logging.Logger) -> ModuleType:
    """``importlib.import_module(name)``, with what its first import prints sent to ``logger``."""
    if name in sys.modules:
        return importlib.import_module(name)
    with prints_to_log(logger):
        return importlib.import_module(name)
