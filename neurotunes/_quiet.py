"""Keep third-party import-time prints off stdout.

pyfluidsynth (imported by us and by pretty_midi and basic_pitch) prints where it
found libfluidsynth to stdout whenever the ``CI`` environment variable is set.
Stdout belongs to the CLI's output (``--json``, MIDI written to ``-``), so such
prints are sent to the debug log instead.

``sys.stdout`` is process-wide and the app serves sessions from many threads,
so only first imports are redirected, one at a time; a module already imported
is returned without touching stdout.

TensorFlow and Basic Pitch are imported under one process-wide lock,
:data:`HEAVY_IMPORT_LOCK`: importing Basic Pitch for the ONNX backend hides
TensorFlow from ``sys.modules`` for a moment (see
:func:`neurotunes.transcribe._import_basic_pitch`), and a thread importing
TensorFlow in that moment (a training run, say) would get an ImportError.  Every
import of TensorFlow in NeuroTunes goes through :func:`import_tensorflow`.
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
#: Held while TensorFlow or Basic Pitch is imported (re-entrant: Basic Pitch may import TensorFlow).
HEAVY_IMPORT_LOCK = threading.RLock()


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


def import_tensorflow() -> ModuleType:
    """``import tensorflow``, never while another thread hides it for the Basic Pitch import.

    The first import takes seconds; later calls cost a look-up and a lock (4 us measured on the
    shared 2-core test machine), once per training run or model build.
    """
    with HEAVY_IMPORT_LOCK:
        return importlib.import_module("tensorflow")


class _DropFrom(logging.Filter):
    """A filter that drops the records logged from files under ``folder`` (and keeps every other)."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self.folder)


@contextlib.contextmanager
def silence_logs_from(logger: logging.Logger, folder: str) -> Iterator[None]:
    """Drop what code under ``folder`` logs on ``logger`` itself, for the block.

    Unlike ``logging.disable`` this leaves other threads' records alone: a
    logger's own filters see only the records logged on it, and only those
    whose source file lies under ``folder`` are dropped.
    """
    drop = _DropFrom(folder)
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def quiet_beam() -> None:
    """Apache Beam logs every step of its local runner at INFO, and warns at import that Google Cloud's API
    tools are missing (they are only for Dataflow): both go below WARNING unless logging asks for DEBUG."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    if "apache_beam" not in sys.modules:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the API-tools warning is logged on the root logger, once, at import
        try:
            import apache_beam  # noqa: F401
        finally:
            root.setLevel(level)
