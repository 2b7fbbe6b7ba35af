"""Encodings as plug-ins: Score <-> tokens, the vocabulary, the valid-next-token grammar.

Each encoding is one module here that registers itself; everything else asks
the registry (:func:`get`, :func:`encoding_for`) and the :class:`Encoding`
interface, and never reads token strings.  Built in:

* ``"event"`` (:mod:`.event`, the default): NOTE/DUR/SHIFT tokens on a grid, real rhythm.
* ``"classic"`` (:mod:`.classic`): Classical-Piano-Composer's note and chord names.

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

__all__ = [
    "BOS",
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
