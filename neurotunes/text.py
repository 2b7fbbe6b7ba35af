"""Text fit for one-line messages: the lowest layer's helpers for names the user gave us."""

from __future__ import annotations

import os


def printable_name(name: str) -> str:
    """A file or archive-entry name fit for a one-line message.

    Control characters (a newline in a name would split the line) are escaped,
    and bytes that are not UTF-8 (kept by Python as surrogates) are shown as ``\\xNN``.
    """
    try:
        text = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:  # a lone surrogate that no file system produced
        text = name.encode("utf-8", "backslashreplace").decode()
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
