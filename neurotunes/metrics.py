"""Musical and model metrics.

Key estimation follows Krumhansl & Kessler's key profiles (the method behind
music21's ``analyze('key')``), computed on duration-weighted pitch classes so it
needs nothing heavier than NumPy.
"""

from __future__ import annotations

import numpy as np

from .score import Score

# Krumhansl-Kessler probe-tone profiles, tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_TONIC_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")  # music21 spelling


def pitch_class_histogram(score: Score, *, weighted: bool = True) -> np.ndarray:
    """Share of each pitch class (C=0 ... B=11), weighted by note duration by default."""
    hist = np.zeros(12)
    for n in score.notes:
        if not n.is_drum:
            hist[n.pitch % 12] += n.duration if weighted else 1.0
    total = hist.sum()
    return hist / total if total else hist


def estimate_key(score: Score) -> tuple[int, str] | None:
    """Most likely key as ``(tonic pitch class, "major" | "minor")``; None for an empty piece."""
    hist = pitch_class_histogram(score)
    if not hist.any():
        return None
    best, best_r = None, -np.inf
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1]
            if r > best_r:
                best, best_r = (tonic, mode), r
    return best


def key_name(key: tuple[int, str]) -> str:
    tonic, mode = key
    name = _TONIC_NAMES[tonic]
    return f"{name if mode == 'major' else name.lower()} {mode}"


def parse_key_name(text: str) -> tuple[int, str] | None:
    """``"E- major"`` / ``"g minor"`` / ``"Bb Major"`` -> ``(tonic pitch class, mode)``; None if unreadable."""
    tonic, _, mode = text.strip().partition(" ")
    mode = mode.strip().lower() or "major"
    if not tonic or mode not in ("major", "minor"):
        return None
    base = "C D EF G A B".find(tonic[0].upper())
    if base < 0:
        return None
    shift = sum(1 for c in tonic[1:] if c == "#") - sum(1 for c in tonic[1:] if c in "-b")
    return ((base + shift) % 12, mode)
