"""The encoding plug-in point: what every encoding gives, and the registry that finds one by name.

An encoding turns a :class:`~neurotunes.score.Score` into token strings and back,
defines the vocabulary a model is trained on, says which tokens may come next
(a small :class:`Grammar` the sampler drives) and answers, once per vocabulary,
the questions the sampler and the metrics ask about tokens (:class:`TokenFacts`):
which pitches a token adds, how far it moves time, whether it completes a note.
Nothing outside an encoding's own module reads its token strings.

A new encoding is one module: subclass :class:`Encoding`, implement its abstract
methods and call :func:`register` on the class.  Its name then appears in
:class:`EncodingConfig` validation, the CLI's ``--encoding`` choices and the
Dataset page.
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from .. import constants as C
from ..errors import BadConfig
from ..registry import encodings as _registry
from ..score import Score

#: The token that opens every piece (also the "silence" primer), in every encoding.
BOS = "BOS"


@dataclass(frozen=True)
class EncodingConfig:
    """Which encoding, and its grid settings; stored in every model's config.

    ``name`` picks a registered encoding (see :func:`names`); the grid fields are
    read by the encodings that have a time grid or a pitch range and ignored by
    the others, so one JSON shape serves them all (and shipped bundles read back
    unchanged).
    """

    name: str = "event"
    steps_per_quarter: int = C.STEPS_PER_QUARTER
    max_shift: int = C.MAX_SHIFT_STEPS
    max_duration: int = C.MAX_DURATION_STEPS
    pitch_low: int = C.PITCH_LOW
    pitch_high: int = C.PITCH_HIGH

    def __post_init__(self) -> None:
        get(self.name)  # a registered encoding, or BadConfig naming the available ones
        if not 1 <= self.steps_per_quarter <= 24:
            raise BadConfig("steps_per_quarter must be 1-24")
        if not 1 <= self.max_shift <= 128 or not 1 <= self.max_duration <= 256:
            raise BadConfig("max_shift must be 1-128 and max_duration 1-256")
        if not 0 <= self.pitch_low < self.pitch_high <= 127 or self.pitch_high - self.pitch_low < 11:
            raise BadConfig("pitch range must span at least an octave inside 0-127")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EncodingConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise BadConfig(f"unknown encoding settings: {sorted(unknown)}")
        return cls(**dict(data))


class Vocabulary:
    """Token strings <-> integer ids; an encoding makes it (:meth:`Encoding.vocabulary`)."""

    def __init__(self, tokens: Sequence[str]):
        if len(set(tokens)) != len(tokens) or not tokens:
            raise BadConfig("vocabulary tokens must be unique and non-empty")
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.tokens == self.tokens

    def encode(self, tokens: Iterable[str], *, skip_unknown: bool = False) -> np.ndarray:
        """Token strings to ids; unknown tokens raise, or are dropped with ``skip_unknown``."""
        if skip_unknown:
            return np.array([self.index[t] for t in tokens if t in self.index], dtype=np.int32)
        try:
            return np.array([self.index[t] for t in tokens], dtype=np.int32)
        except KeyError as exc:
            raise BadConfig(f"token {exc.args[0]!r} is not in the model's vocabulary") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def to_json(self) -> str:
        return json.dumps({"tokens": list(self.tokens)})

    @classmethod
    def from_json(cls, text: str | bytes) -> "Vocabulary":
        try:
            data = json.loads(text)
            tokens = data["tokens"]
        except (ValueError, KeyError, TypeError):
            raise BadConfig("vocabulary JSON must be an object with a 'tokens' list") from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise BadConfig("vocabulary tokens must be strings")
        return cls(tokens)


def fold_pitch(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by octaves into ``low..high`` (a range of at least an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # shared by every generation from the same model: nobody may write into it
    return array


@dataclass(frozen=True, eq=False)
class TokenFacts:
    """What the sampler and the metrics need to know about each token of one vocabulary, as arrays.

    Index ``i`` describes token id ``i``.  Built once per vocabulary by
    :meth:`Encoding.facts` from the encoding's per-token answers.

    Attributes
    ----------
    pitches
        The MIDI pitches each token adds (empty for rhythm tokens and BOS).
    carries_pitch
        Tokens that add at least one pitch: what the scale lock masks, what
        pitch NLL and pitch accuracy are measured on.
    completes_note
        Tokens after which a note (or chord) is finished: what counts towards a take's length.
    time_steps
        How many grid steps a token moves the current time.
    steps_per_quarter
        The grid: ``time_steps / steps_per_quarter`` is quarter notes (beats) moved.
    time_shift
        Tokens that move time without adding a note (rests): what the density setting reweights.
    holds_pitch
        Tokens that keep a note sounding from before (a frame's tie): what density weighs against a new
        note, and why beam search ranks such an encoding's beams per note.
    by_pitch
        Pitch -> ids of the tokens that add it (the repetition penalty's lookup).
    """

    pitches: tuple[tuple[int, ...], ...]
    carries_pitch: np.ndarray
    completes_note: np.ndarray
    time_steps: np.ndarray
    steps_per_quarter: int
    time_shift: np.ndarray
    holds_pitch: np.ndarray
    by_pitch: Mapping[int, tuple[int, ...]]

    def seconds_per_token(self, tempo_bpm: float) -> np.ndarray:
        """Seconds each token moves time at ``tempo_bpm``."""
        return self.time_steps * (60.0 / tempo_bpm / self.steps_per_quarter)

    def beats(self, ids: np.ndarray) -> np.ndarray:
        """Quarter notes moved by the tokens ``ids``."""
        return self.time_steps[ids] / self.steps_per_quarter


class Grammar(ABC):
    """Which tokens may come next: a small state machine the sampler drives.

    The sampler calls :meth:`start` (the constructor already has), then, for
    every token of the prefix and of the music it makes, :meth:`observe`; before
    each choice it ANDs :meth:`mask` into the model's distribution.  Beam search
    keeps one grammar per beam through :meth:`copy`.
    """

    def __init__(self, size: int):
        self.size = size
        self.start()

    @abstractmethod
    def start(self) -> None:
        """Forget everything: the next token opens a piece."""

    @abstractmethod
    def observe(self, token: int) -> None:
        """Take in one token id (of the primer or of the generated music)."""

    @abstractmethod
    def mask(self) -> np.ndarray:
        """Boolean array over the vocabulary: True where a token may come next (do not write into it)."""

    def after_primer(self) -> None:
        """The primer has been fed and new music starts here (an encoding may want time to move on first)."""

    def copy(self) -> "Grammar":
        """An independent grammar in the same state (a subclass copies its mutable state too)."""
        return copy.copy(self)


class AnyTokenGrammar(Grammar):
    """Every token may follow every other, except the piece-opening BOS: for encodings with no inner syntax."""

    def __init__(self, vocab: Vocabulary):
        self.allowed = _frozen(np.array([t != BOS for t in vocab.tokens]))
        super().__init__(len(vocab))

    def start(self) -> None:
        pass

    def observe(self, token: int) -> None:
        pass

    def mask(self) -> np.ndarray:
        return self.allowed


class Encoding(ABC):
    """One way of writing music as tokens; subclass it and :func:`register` the class.

    An instance carries its :class:`EncodingConfig` (``self.config``).  Subclasses
    set ``name`` and ``description`` and implement the abstract methods; the
    concrete ones are built on those.
    """

    #: The name stored in ``EncodingConfig.name`` and offered by the CLI and the Dataset page.
    name: ClassVar[str]
    #: One line for people choosing an encoding (the Dataset page shows it).
    description: ClassVar[str]
    #: The token that opens a piece.
    bos: ClassVar[str] = BOS
    #: True when :meth:`vocabulary` depends on the config alone: a model's vocabulary must then equal it.
    fixed_vocabulary: ClassVar[bool] = False

    def __init__(self, config: EncodingConfig | None = None):
        config = config or EncodingConfig(name=self.name)
        if config.name != self.name:
            raise BadConfig(f"the {self.name} encoding was given the settings of {config.name!r}")
        self.config = config
        self._facts: dict[tuple[str, ...], TokenFacts] = {}

    # --- the vocabulary -------------------------------------------------------
    @abstractmethod
    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        """The tokens a model of this encoding knows (fixed by the config, or built from ``scores``)."""

    def check_vocabulary(self, vocab: Vocabulary) -> None:
        """Raise :class:`BadConfig`, saying why, when ``vocab`` cannot belong to this encoding and config."""
        if self.fixed_vocabulary and vocab != self.vocabulary():
            raise BadConfig("its vocabulary does not match its encoding settings")
        if vocab.tokens[:1] != (self.bos,):
            raise BadConfig(f"a {self.name} vocabulary must start with {self.bos}, this one starts with "
                            f"{vocab.tokens[0]!r}")

    # --- Score <-> tokens -----------------------------------------------------
    @abstractmethod
    def encode(self, score: Score, *, bos: bool = True) -> list[str]:
        """A Score's pitched notes as tokens, opening with :attr:`bos` unless ``bos=False``."""

    @abstractmethod
    def decode(
        self,
        tokens: Iterable[str],
        *,
        tempo_bpm: float = C.DEFAULT_TEMPO_BPM,
        program: int = C.DEFAULT_PROGRAM,
        velocity: int = C.DEFAULT_VELOCITY,
        metadata: Mapping[str, Any] | None = None,
    ) -> Score:
        """Tokens back into a Score; forgiving: any token sequence decodes (unknown tokens are skipped)."""

    def quantize(self, score: Score) -> Score:
        """The Score as the encoding sees it (a Score -> tokens -> Score round trip), metadata kept."""
        return self.decode(self.encode(score), tempo_bpm=score.tempo_bpm).replace(metadata=dict(score.metadata))

    def grid_notes(self, score: Score, max_steps: int) -> dict[tuple[int, int], int]:
        """The pitched notes on the config's grid: ``(onset step, pitch) -> duration in steps``.

        Durations are at least one step and at most ``max_steps``; pitches outside the
        config's range are folded by octaves (:func:`fold_pitch`); doubled notes (the same
        pitch starting on the same step) keep the longest.
        """
        enc = self.config
        step = score.seconds_per_beat / enc.steps_per_quarter
        events: dict[tuple[int, int], int] = {}
        for n in score.notes:
            if n.is_drum:
                continue
            onset = int(round(n.start / step))
            dur = int(min(max(round(n.duration / step), 1), max_steps))
            key = (onset, fold_pitch(n.pitch, enc.pitch_low, enc.pitch_high))
            events[key] = max(events.get(key, 0), dur)
        return events

    # --- one token at a time --------------------------------------------------
    @abstractmethod
    def token_pitches(self, token: str) -> tuple[int, ...]:
        """The MIDI pitches ``token`` adds (empty for rhythm tokens, BOS and tokens this encoding does not know)."""

    def token_held_pitches(self, token: str) -> tuple[int, ...]:
        """The MIDI pitches ``token`` keeps sounding from before (a frame's tie); none in most encodings."""
        return ()

    @abstractmethod
    def token_time_steps(self, token: str) -> int:
        """Grid steps ``token`` moves the current time (see :attr:`steps_per_quarter`)."""

    @abstractmethod
    def completes_note(self, token: str) -> bool:
        """True when ``token`` finishes a note or chord."""

    @abstractmethod
    def transpose_token(self, token: str, semitones: int) -> str:
        """The token for the same event ``semitones`` higher (tokens without pitch are unchanged)."""

    @property
    def steps_per_quarter(self) -> int:
        """Grid steps per quarter note, the unit of :meth:`token_time_steps`."""
        return self.config.steps_per_quarter

    def count_notes(self, tokens: Iterable[str]) -> int:
        """Notes a token sequence stands for (a chord token counts each of its notes)."""
        return sum(len(self.token_pitches(t)) for t in tokens)

    def notes_per_token(self, scores: Sequence[Score]) -> float:
        """Notes divided by predicted tokens over ``scores``: turns an NLL per token into an NLL per note."""
        tokens = [self.encode(s) for s in scores]
        n_tokens = sum(len(t) - 1 for t in tokens)  # BOS is never a target
        return sum(self.count_notes(t) for t in tokens) / max(n_tokens, 1)

    # --- facts and grammar over a whole vocabulary ------------------------------
    def facts(self, vocab: Vocabulary) -> TokenFacts:
        """The per-token facts of ``vocab``, computed once per vocabulary and kept."""
        known = self._facts.get(vocab.tokens)
        if known is None:
            known = self._facts[vocab.tokens] = self._build_facts(vocab)
        return known

    def _build_facts(self, vocab: Vocabulary) -> TokenFacts:
        pitches = tuple(tuple(self.token_pitches(t)) for t in vocab.tokens)
        carries_pitch = np.array([bool(p) for p in pitches])
        time_steps = np.array([self.token_time_steps(t) for t in vocab.tokens], dtype=np.int64)
        by_pitch: dict[int, list[int]] = {}
        for i, ps in enumerate(pitches):
            for p in ps:
                by_pitch.setdefault(p, []).append(i)
        return TokenFacts(
            pitches=pitches,
            carries_pitch=_frozen(carries_pitch),
            completes_note=_frozen(np.array([self.completes_note(t) for t in vocab.tokens])),
            time_steps=_frozen(time_steps),
            steps_per_quarter=self.steps_per_quarter,
            time_shift=_frozen((time_steps > 0) & ~carries_pitch),
            holds_pitch=_frozen(np.array([bool(self.token_held_pitches(t)) for t in vocab.tokens])),
            by_pitch={p: tuple(ids) for p, ids in by_pitch.items()},
        )

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> Grammar:
        """A fresh grammar over ``vocab``; ``max_chord`` caps notes per onset where the encoding has chords of
        separate tokens (0: no cap).  The default lets any token but BOS follow any other."""
        return AnyTokenGrammar(vocab)


# --- the registry ---------------------------------------------------------------
def register(encoding_class: type[Encoding]) -> type[Encoding]:
    """Make ``encoding_class`` available under its ``name``; usable as a class decorator.

    Registering the same class twice is harmless; another class under a taken name is refused.
    """
    return _registry.add_class(encoding_class, Encoding)


def get(name: str) -> type[Encoding]:
    """The encoding class registered under ``name`` (BadConfig naming the available ones otherwise)."""
    return _registry.get(name)


def names() -> tuple[str, ...]:
    """Registered encoding names, in registration order (the built-in default, "event", first)."""
    return _registry.names()


def descriptions() -> dict[str, str]:
    """Name -> one-line description of every registered encoding."""
    return {name: get(name).description for name in names()}


@lru_cache(maxsize=64)
def encoding_for(config: EncodingConfig) -> Encoding:
    """The encoding an :class:`EncodingConfig` names, set up with it (one instance per config, so its
    per-vocabulary facts are computed once per process)."""
    return get(config.name)(config)
