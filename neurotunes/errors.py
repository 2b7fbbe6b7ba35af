"""Named exceptions whose messages a musician can act on.

Every error the library raises on bad input is a :class:`NeuroTunesError`.  The
CLI prints ``str(err)`` on one line; the app shows it in an ``st.error`` box.
"""

from __future__ import annotations


class NeuroTunesError(Exception):
    """Base class: something the user can fix (bad file, bad setting)."""


class BadAudio(NeuroTunesError):
    """An audio file that cannot be decoded, is empty, silent or too long."""


class BadMidi(NeuroTunesError):
    """A MIDI file that cannot be parsed or holds no usable notes."""


class BadScore(NeuroTunesError):
    """A Score (or JSON for one) whose values are out of range."""


class BadConfig(NeuroTunesError):
    """A setting outside its allowed range, or an unknown option."""


class BadModel(NeuroTunesError):
    """A model bundle that is missing, incomplete, tampered with or unsafe."""


class DatasetError(NeuroTunesError):
    """A dataset that cannot be built or is too small to train on."""


class TrainingDiverged(NeuroTunesError):
    """The training loss or the weights became NaN or infinite: the run cannot go on."""


class RenderError(NeuroTunesError):
    """Audio rendering failed (no soundfont, FluidSynth missing, ...)."""


class TranscriptionError(NeuroTunesError):
    """Basic Pitch could not transcribe the audio."""
