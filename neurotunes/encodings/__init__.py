"""Encodings as plug-ins: Score <-> tokens, the vocabulary, the valid-next-token grammar.

Each encoding is one module here that registers itself; everything else asks
the registry (:func:`get`, :func:`encoding_for`) and the :class:`Encoding`
interface, and never reads token strings.  Built in:

* ``"event"`` (:mod:`.event`, the default): NOTE/DUR/SHIFT tokens on a grid, real rhythm.
* ``"classic"`` (:mod:`.classic`): Classical-Piano-Composer's note and chord names.
* ``"tsd"``, ``"remi"`` (:mod:`.miditok_codecs`): MidiTok's TSD and REMI tokenizations on our grid.
* ``"frame"`` (:mod:`.frame`): BachBot's frames, voices top to bottom with ties marked (chorales).
* ``"beat-frame"`` (:mod:`.frame`): the same frames, each frame end naming the step of the beat that follows.
* ``"bar-frame"`` (:mod:`.frame`): frame ends naming the step of the bar, phrase ends (fermatas) marked.

Adding one::

    from neurotunes.encodings import Encoding, register

    @register
    class PitchOnly(Encoding):
        name = "pitch-only"
        description = "One token per note pitch, every note a quarter long"
        ...  # vocabulary, encode, decode, token_pitches, token_time_steps, completes_note, transpose_token
"""

from .base import (
    BOS,
    AnyTokenGrammar,
    Encoding,
    EncodingConfig,
    Grammar,
    TokenFacts,
    Vocabulary,
    descriptions,
    encoding_for,
    get,
    names,
    register,
)
from .event import EventEncoding  # registers "event" first: the default and the first choice offered
from .classic import ClassicEncoding  # noqa: E402, I001  (after event: registration order is the offer order)
from .miditok_codecs import REMIEncoding, TSDEncoding  # noqa: E402, I001  (MidiTok imported on first use)
from .frame import BarFrameEncoding, BeatFrameEncoding, FrameEncoding  # noqa: E402, I001

__all__ = [
    "BOS",
    "BarFrameEncoding",
    "BeatFrameEncoding",
    "AnyTokenGrammar",
    "ClassicEncoding",
    "Encoding",
    "EncodingConfig",
    "EventEncoding",
    "Grammar",
    "TokenFacts",
    "Vocabulary",
    "descriptions",
    "encoding_for",
    "get",
    "names",
    "register",
]
