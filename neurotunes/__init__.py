"""NeuroTunes: turn music you have into new music.

Audio -> Basic Pitch -> Score -> dataset -> sequence model -> generated Score ->
FluidSynth audio.  Importing this package is cheap: TensorFlow, Basic Pitch,
music21 and FluidSynth load on first use.
"""

from .errors import NeuroTunesError
from . import models  # registers the built-in architectures that ModelConfig checks names against
from .score import Note, Score

__all__ = ["Note", "Score", "NeuroTunesError"]
__version__ = "0.1.0"
