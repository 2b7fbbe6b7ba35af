"""At most a few heavy jobs at once on one server; the rest wait in line and see their place.

Generation, transcription, evaluation and training each keep a core busy.  On a
2-core host, five users pressing Generate at once used to run five jobs side by
side, each at a fifth of the speed (26 s each instead of 7 s for one), and a
share link opened by many visitors could take every core.  Here jobs run in
arrival order, ``MAX_HEAVY_JOBS`` at a time (``NEUROTUNES_MAX_HEAVY_JOBS``,
default: the number of cores), and a waiting user is told their place in line.

Short jobs go first: a waiting Generate (about a second) is served before a
waiting transcription or evaluation, so five users composing at once do not
queue behind each other's recordings.  Within one priority, arrival order.
Training is not in this line: it runs in a niced child process, one at a time
(:mod:`neurotunes.ui.jobs`), and the operating system gives users' jobs the
cores first.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

#: Heavy jobs that run at once in one server process.
MAX_HEAVY_JOBS = max(1, int(os.environ.get("NEUROTUNES_MAX_HEAVY_JOBS", str(os.cpu_count() or 2))))
#: How often a waiting job re-reports its place (seconds).
POLL_S = 0.25


class JobLine:
    """A first-come, first-served line in front of ``slots`` workers."""

    def __init__(self, slots: int = MAX_HEAVY_JOBS):
        self.slots = slots
        self.running = 0
        self._waiting: list[tuple[int, int]] = []  # (priority, ticket), kept sorted: the head runs next
        self._tickets = itertools.count()
        self._cond = threading.Condition()

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @contextmanager
    def slot(self, on_wait: Callable[[int], None] | None = None, priority: int = 0) -> Iterator[None]:
        """Hold one slot for the ``with`` block; while waiting, ``on_wait(place)`` (1 = next) is called
        now and then from this thread.  If ``on_wait`` raises (the user left the page), the place is given up.
        A lower ``priority`` is served before a higher one that waits (see :data:`PRIORITY`)."""
        with self._cond:
            ticket = (priority, next(self._tickets))
            bisect.insort(self._waiting, ticket)
        try:
            while True:
                with self._cond:
                    if self.running < self.slots and self._waiting[0] == ticket:
                        self._waiting.pop(0)
                        self.running += 1
                        break
                    place = self._waiting.index(ticket) + 1
                if on_wait is not None:
                    on_wait(place)
                with self._cond:
                    self._cond.wait(POLL_S)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                idle = self.running == 0 and not self._waiting
                self._cond.notify_all()
            if idle:
                release_free_memory()


def release_free_memory() -> None:
    """Hand memory that Python has freed back to the operating system (glibc keeps it otherwise).

    A take or a transcription allocates and frees tens of MB (audio buffers,
    activations); glibc holds freed blocks in per-thread arenas, so a server's
    resident memory only ever grew.  ``malloc_trim`` returns them; it costs a few
    milliseconds and runs when the line of heavy jobs becomes empty.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None

#: Priorities by what the job does: the shortest, most interactive first.
PRIORITY = {"Composing": 0, "Transcribing": 1, "Evaluating": 2}

#: The server's one line for generate, transcribe and evaluate.
HEAVY_JOBS = JobLine()


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
