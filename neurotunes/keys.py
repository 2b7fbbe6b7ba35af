"""One musical key: a tonic pitch class and a mode, written one way everywhere.

A :class:`Key` is the only form a key takes inside NeuroTunes.  Text from the
outside (music21's ``"E- major"`` / ``"e-"``, pretty_midi's ``"Eb Major"``, a
user's ``"F#m"``) becomes a Key at the edge with :meth:`Key.parse`; the app, the
CLI and Score JSON show :attr:`Key.name` (``"Eb major"``, ``"C# minor"``), spelled
with the same tonic names as pitches (``Eb4``) and the scale lock.

:func:`estimate` follows Krumhansl & Kessler's key profiles (the method behind
music21's ``analyze('key')``), computed on duration-weighted pitch classes with
NumPy alone: no music21 import on this path, and a test checks it against
music21 on real chorales.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from .errors import BadConfig



class _Note(Protocol):
    pitch: int
    duration: float
    is_drum: bool


class Piece(Protocol):
    """What key finding reads of a :class:`~neurotunes.score.Score`: its notes and the key its file names.

    A protocol, not an import: ``score.py`` holds a :class:`Key`, so keys sit below scores.
    """

    key: "Key | None"

    @property
    def notes(self) -> Iterable[_Note]: ...

#: How a pitch class is written (C=0 ... B=11): pitch names (``Eb4``), key names and the scale lock's tonic.
#: The same spelling music21 uses for its key tonics (``E-``, ``A-``, ``B-``; ``C#``, ``F#``).
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
#: Key normalisation moves every piece to one of these tonics: C major, A minor (the relative minor,
#: so both share the white-key signature).
REFERENCE_TONICS = {"major": 0, "minor": 9}

#: Scale steps above the tonic counted as "in the key": the major scale; for minor, natural, harmonic
#: and melodic minor together (a raised sixth or seventh is at home in a minor key).
MAJOR_STEPS = frozenset({0, 2, 4, 5, 7, 9, 11})
MINOR_STEPS = frozenset({0, 2, 3, 5, 7, 8, 9, 10, 11})

# Krumhansl-Kessler probe-tone profiles, tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# A letter, accidentals (# or b/-, music21 writes flats as -), then an optional mode word.
_KEY_TEXT = re.compile(r"([A-Ga-g])([#b\-]*)\s*([A-Za-z]*)")
_MINOR_WORDS = ("m", "min", "minor")
_MAJOR_WORDS = ("M", "maj", "major")


@dataclass(frozen=True, order=True)
class Key:
    """A key: tonic pitch class (0 = C ... 11 = B) and mode (``"major"`` or ``"minor"``).

    Examples
    --------
    >>> Key.parse("E- major")
    Key(tonic=3, mode='major')
    >>> Key(3, "major").name
    'Eb major'
    >>> Key.parse("F#m").transpose(3).name
    'A minor'
    """

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if isinstance(self.tonic, bool) or not isinstance(self.tonic, (int, np.integer)) or not 0 <= self.tonic <= 11:
            raise BadConfig(f"a key's tonic is a pitch class 0-11 (0 = C), got {self.tonic!r}")
        object.__setattr__(self, "tonic", int(self.tonic))
        if self.mode not in MODES:
            raise BadConfig(f"a key's mode is 'major' or 'minor', got {self.mode!r}")

    @classmethod
    def parse(cls, text: str) -> "Key":
        """Read a key written any common way.

        ``"Eb major"``, ``"E- major"`` (music21), ``"Eb Major"`` (pretty_midi), ``"e minor"``,
        ``"F#m"``, ``"Bbmaj"``, ``"E♭ major"``, a bare tonic (``"C"``: major) and music21's
        lower-case tonic for minor (``"e-"``: E-flat minor).  An explicit mode word wins over case.

        Raises
        ------
        BadConfig
            The text is not a key in a major or minor mode; the message quotes it.
        """
        if not isinstance(text, str):
            raise BadConfig(f"a key is text such as 'Eb major' or 'F#m', got {text!r}")
        cleaned = text.strip().replace("♭", "b").replace("♯", "#")
        match = _KEY_TEXT.fullmatch(cleaned)
        word = match.group(3) if match else ""
        if word in _MINOR_WORDS or word.lower() in _MINOR_WORDS[1:]:
            mode = "minor"
        elif word in _MAJOR_WORDS or word.lower() in _MAJOR_WORDS[1:]:
            mode = "major"
        elif match and not word:
            mode = "minor" if match.group(1).islower() else "major"  # music21: "e" is E minor, "E" is E major
        else:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise BadConfig(f"not a major or minor key: {shown!r}; write it like 'Eb major', 'F#m' or 'c minor'")
        letter, accidentals = match.group(1), match.group(2)
        shift = accidentals.count("#") - accidentals.count("b") - accidentals.count("-")
        return cls((_LETTERS[letter.upper()] + shift) % 12, mode)

    @property
    def name(self) -> str:
        """How the app, the CLI and Score JSON write the key: ``"Eb major"``, ``"C# minor"``."""
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"

    def __str__(self) -> str:
        return self.name

    @property
    def music21_name(self) -> str:
        """The name ``music21.key.Key`` takes: ``"E-"`` for E-flat major, ``"e-"`` for E-flat minor."""
        tonic = PITCH_CLASS_NAMES[self.tonic].replace("b", "-")
        return tonic if self.mode == "major" else tonic.lower()

    @property
    def scale_steps(self) -> frozenset[int]:
        """Semitones above the tonic that belong to the key (minor: natural, harmonic and melodic together)."""
        return MAJOR_STEPS if self.mode == "major" else MINOR_STEPS

    def transpose(self, semitones: int) -> "Key":
        """The key ``semitones`` higher (negative: lower), same mode."""
        return Key((self.tonic + semitones) % 12, self.mode)

    def shift_to_reference(self) -> int:
        """Semitones (-5..+6) that move this key to C major or A minor, by the smaller step.

        A tritone away goes up (+6); everything else takes the nearer direction, so a
        piece moves at most half an octave and stays near its own register.
        """
        shift = (REFERENCE_TONICS[self.mode] - self.tonic) % 12
        return shift - 12 if shift > 6 else shift



def pitch_class_histogram(score: Piece, *, weighted: bool = True) -> np.ndarray:
    """Share of each pitch class (C=0 ... B=11), weighted by note duration by default."""
    hist = np.zeros(12)
    for n in score.notes:
        if not n.is_drum:
            hist[n.pitch % 12] += n.duration if weighted else 1.0
    total = hist.sum()
    return hist / total if total else hist


def estimate(score: Piece) -> Key | None:
    """The most likely key of the notes (Krumhansl-Kessler); None for a piece without a key to find."""
    hist = pitch_class_histogram(score)
    if not hist.any() or np.ptp(hist) == 0:
        return None  # no notes, or every pitch class equally present: no key to find
    best, best_r = None, -np.inf
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1]
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best


def piece_key(score: Piece) -> Key | None:
    """The piece's key: the one its file names, otherwise :func:`estimate`'s."""
    return score.key or estimate(score)
