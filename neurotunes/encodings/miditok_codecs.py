"""MidiTok's single-stream tokenizations, TSD and REMI, as encodings (``"tsd"``, ``"remi"``).

MidiTok (https://miditok.readthedocs.io) does the tokenizing; this module only
moves a :class:`~neurotunes.score.Score` onto MidiTok's ``symusic`` score and
back, and answers the per-token questions and the grammar.  Both tokenizers are
set up on our grid and pitch range, with no velocity, tempo, program or
time-signature tokens, so the vocabularies stay small (153 and 138 tokens at
the defaults, against the event encoding's 137)::

    tsd:   BOS  Pitch_60 Duration_1.0.4  Pitch_64 Duration_0.2.4  TimeShift_1.0.4  Pitch_67 ...
    remi:  BOS  Bar_None Position_0 Pitch_60 Duration_1.0.4 Pitch_64 Duration_0.2.4 Position_4 Pitch_67 ...

* ``Pitch_p Duration_b.s.r`` — a note of MIDI pitch ``p`` lasting ``b`` beats and ``s``
  grid steps (``r`` steps per beat), starting at the current time; pairs in a row form
  a chord, lowest pitch first (MidiTok's order).
* TSD: ``TimeShift_b.s.r`` moves the current time on (rests fall out of this).
* REMI: ``Bar_None`` starts the next bar, ``Position_k`` puts the current time ``k`` steps
  into the bar.  Bars are four quarter notes whatever the piece's meter: MidiTok writes a
  time-signature token after every bar when it follows the meter, one more token per bar.

Durations and time shifts run from one step to ``max(max_shift, max_duration)`` steps,
rounded up to whole beats (MidiTok builds both from one ``beat_res``); longer notes are
cut, longer rests take several shifts (TSD) or empty bars (REMI).  Pitches outside the
range are folded by octaves, as in the event encoding.

Time facts: a TSD TimeShift moves time by exactly its steps.  REMI's Bar and Position
say where time is, not how far it moves, so a constant per token can only approximate:
a Bar counts one whole bar and a Position nothing, so the count is the end of the
current bar, ahead of the music by less than a bar.  A time-based stop of a REMI take
therefore ends it on a bar line, less than a bar before the limit (a 5 s limit at
120 BPM ends the take at the 4 s bar line), and the density setting, which reweights
time shifts, has nothing to reweight in REMI (its only time token is Bar).  Counting
Bar as 0 instead would leave a REMI take no time at all, so time limits would never stop it.

No BPE (yet): MidiTok's BPE learns merges from a dataset, and encoding a piece needs
them, but ``Encoding.encode(score)`` is not told the vocabulary and one encoding object
serves every model of the same :class:`~neurotunes.encodings.base.EncodingConfig`, so
two models trained with different merges would share one encoder.  The merges could
travel in the vocabulary itself (each learned token spelled as its two parts, in merge
order); what is missing is an ``encode`` that is given the vocabulary.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar, Iterable, Mapping

import numpy as np

from .. import constants as C
from ..errors import BadConfig
from ..score import Note, Score
from .base import BOS, Encoding, EncodingConfig, Grammar, Vocabulary, register

PITCH, DURATION, TIME_SHIFT, BAR, POSITION = "Pitch", "Duration", "TimeShift", "Bar", "Position"
#: MidiTok's time values: beats, steps, steps per beat ("1.2.4" is a beat and two sixteenths).
_TIME_VALUE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
#: Without time-signature tokens MidiTok's REMI writes every bar as 4/4.
REMI_BAR_QUARTERS = 4
#: MidiTok keeps a padding token at id 0; our vocabularies open with BOS instead and never pad.
MIDITOK_SPECIAL_TOKENS = ("PAD",)


def _parse(token: str) -> tuple[str, str]:
    """``"Pitch_60"`` -> ``("Pitch", "60")``; BOS and other tokens -> ``(token, "")``."""
    kind, sep, value = token.partition("_")
    return (kind, value) if sep else (token, "")


def _pitch(token: str) -> int | None:
    kind, value = _parse(token)
    return int(value) if kind == PITCH and value.isdigit() else None


def _steps(value: str, steps_per_quarter: int) -> int:
    """A MidiTok time value (``"1.2.4"``) in our grid steps; 0 when it is not one."""
    m = _TIME_VALUE.fullmatch(value)
    if not m:
        return 0
    beats, steps, per_beat = map(int, m.groups())
    return (beats * per_beat + steps) * steps_per_quarter // per_beat


class MidiTokEncoding(Encoding):
    """Shared by the MidiTok encodings; a subclass names the MidiTok tokenizer class and its grammar."""

    #: The ``miditok`` class that tokenizes (``"TSD"``, ``"REMI"``).
    tokenizer_class: ClassVar[str]
    fixed_vocabulary = True

    def __init__(self, config: EncodingConfig | None = None):
        super().__init__(config)
        self._tokenizer: Any = None  # built on first use: importing MidiTok costs about half a second
        self._known_tokens: frozenset[str] | None = None

    # --- MidiTok, set up on our grid ----------------------------------------------
    @property
    def max_steps(self) -> int:
        """The longest duration and time shift, in grid steps (whole beats)."""
        enc = self.config
        return self.beats * enc.steps_per_quarter

    @property
    def beats(self) -> int:
        """The longest duration and time shift, in whole beats (MidiTok's ``beat_res`` range)."""
        enc = self.config
        return math.ceil(max(enc.max_shift, enc.max_duration) / enc.steps_per_quarter)

    def tokenizer(self):
        """The MidiTok tokenizer for this config (built once)."""
        if self._tokenizer is None:
            import miditok

            enc = self.config
            settings = miditok.TokenizerConfig(
                pitch_range=(enc.pitch_low, enc.pitch_high),  # both ends included
                beat_res={(0, self.beats): enc.steps_per_quarter},
                special_tokens=list(MIDITOK_SPECIAL_TOKENS),
                use_velocities=False,
                use_tempos=False,
                use_time_signatures=False,
                use_programs=False,
                use_pitchdrum_tokens=False,
            )
            tokenizer = getattr(miditok, self.tokenizer_class)(settings)
            if tokenizer.time_division % enc.steps_per_quarter:
                raise BadConfig(f"MidiTok's {self.tokenizer_class} counts {tokenizer.time_division} ticks per "
                                f"quarter note, not a multiple of the grid's {enc.steps_per_quarter} steps")
            self._tokenizer = tokenizer
        return self._tokenizer

    # --- the vocabulary -------------------------------------------------------------
    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        """Fixed by the config: BOS, then MidiTok's tokens in its order, its padding left out."""
        tokenizer = self.tokenizer()
        special = set(tokenizer.special_tokens)
        ordered = sorted(tokenizer.vocab.items(), key=lambda kv: kv[1])
        return Vocabulary([BOS, *(t for t, _ in ordered if t not in special)])

    def _known(self) -> frozenset[str]:
        if self._known_tokens is None:
            self._known_tokens = frozenset(self.vocabulary().tokens[1:])
        return self._known_tokens

    # --- Score <-> tokens -------------------------------------------------------------
    def encode(self, score: Score, *, bos: bool = True) -> list[str]:
        from symusic import Note as MidiNote
        from symusic import Score as MidiScore
        from symusic import Track

        enc = self.config
        events = self.grid_notes(score, self.max_steps)
        tokens = [BOS] if bos else []
        if not events:
            return tokens
        tokenizer = self.tokenizer()
        ticks = tokenizer.time_division // enc.steps_per_quarter
        midi = MidiScore(tokenizer.time_division)
        track = Track(program=C.DEFAULT_PROGRAM, is_drum=False)
        for (onset, pitch), dur in sorted(events.items()):
            track.notes.append(MidiNote(onset * ticks, dur * ticks, pitch, C.DEFAULT_VELOCITY))
        midi.tracks.append(track)
        encoded = tokenizer.encode(midi)
        sequence = encoded[0] if isinstance(encoded, list) else encoded  # one track: one sequence
        return tokens + list(sequence.tokens)

    def decode(
        self,
        tokens: Iterable[str],
        *,
        tempo_bpm: float = C.DEFAULT_TEMPO_BPM,
        program: int = C.DEFAULT_PROGRAM,
        velocity: int = C.DEFAULT_VELOCITY,
        metadata: Mapping[str, Any] | None = None,
    ) -> Score:
        """MidiTok decodes; tokens it does not know (BOS among them) are skipped, and a Pitch with no
        Duration after it is dropped (MidiTok's rule), so any sequence decodes."""
        known = self._known()
        kept = [t for t in tokens if t in known]
        notes: list[Note] = []
        if kept:
            from miditok import TokSequence

            tokenizer = self.tokenizer()
            seconds_per_tick = 60.0 / tempo_bpm / tokenizer.time_division
            midi = tokenizer.decode([TokSequence(tokens=kept)])
            for track in midi.tracks:
                for n in track.notes:
                    notes.append(Note(pitch=int(n.pitch), start=n.time * seconds_per_tick,
                                      end=(n.time + n.duration) * seconds_per_tick,
                                      velocity=velocity, program=program))
        return Score(notes=tuple(notes), tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))

    # --- one token at a time ------------------------------------------------------------
    def token_pitches(self, token: str) -> tuple[int, ...]:
        pitch = _pitch(token)
        return () if pitch is None else (pitch,)

    def completes_note(self, token: str) -> bool:
        return _parse(token)[0] == DURATION

    def transpose_token(self, token: str, semitones: int) -> str:
        pitch = _pitch(token)
        return token if pitch is None else f"{PITCH}_{pitch + semitones}"


class TSDEncoding(MidiTokEncoding):
    """MidiTok's TSD: Pitch/Duration pairs and TimeShifts, the event encoding's shape (see the module docstring)."""

    name = "tsd"
    description = "TSD (MidiTok): pitch, duration and time-shift tokens, real rhythm"
    tokenizer_class = "TSD"

    def token_time_steps(self, token: str) -> int:
        kind, value = _parse(token)
        return _steps(value, self.steps_per_quarter) if kind == TIME_SHIFT else 0

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> "NoteGrammar":
        return NoteGrammar(vocab, max_chord, bars=False)


class REMIEncoding(MidiTokEncoding):
    """MidiTok's REMI: Bar and Position tokens place Pitch/Duration pairs in 4/4 bars (see the module docstring)."""

    name = "remi"
    description = "REMI (MidiTok): bar and position-in-bar tokens with pitch and duration"
    tokenizer_class = "REMI"

    def token_time_steps(self, token: str) -> int:
        """A Bar counts a whole bar, a Position nothing: time at the current bar's end (see the module docstring)."""
        return REMI_BAR_QUARTERS * self.steps_per_quarter if _parse(token)[0] == BAR else 0

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> "NoteGrammar":
        return NoteGrammar(vocab, max_chord, bars=True)


class NoteGrammar(Grammar):
    """Keeps sampled TSD and REMI sequences decodable, note for note.

    A Pitch is followed by its Duration; no pitch twice in one chord; at most ``max_chord``
    notes per onset (0: no cap).  TSD (``bars=False``): Pitch or TimeShift after a Duration
    or a TimeShift.  REMI (``bars=True``): a piece opens with a Bar; a Bar is followed by a
    Bar or a Position, a Position by a Pitch, a Duration by a Pitch, a Bar or a later Position
    (time never runs back inside a bar).  After a primer, time moves on before the first new
    note (a TimeShift; in REMI a Bar or a later Position), so the primer's last chord stays its own.
    """

    def __init__(self, vocab: Vocabulary, max_chord: int = 0, *, bars: bool):
        kind = np.array([_parse(t)[0] for t in vocab.tokens])
        self.kind = kind
        self.bars = bars
        self.position = np.array([int(v) if k == POSITION and v.isdigit() else -1
                                  for k, v in map(_parse, vocab.tokens)])
        self.pitches = kind == PITCH
        self.durations = kind == DURATION
        self.bar = kind == BAR
        self.shifts = kind == TIME_SHIFT
        self.bar_or_position = (kind == BAR) | (kind == POSITION)
        self.max_chord = max_chord
        super().__init__(len(vocab))

    def start(self) -> None:
        self.chord: set[int] = set()
        self.last = BOS
        self.at = -1  # REMI: the current Position in the bar (-1: none yet)
        self.move_on = False

    def after_primer(self) -> None:
        self.move_on = True

    def copy(self) -> "NoteGrammar":
        other = super().copy()
        other.chord = set(self.chord)
        return other

    def observe(self, token: int) -> None:
        kind = self.kind[token]
        if kind == PITCH:
            self.chord.add(token)
        elif kind in (TIME_SHIFT, BAR, POSITION, BOS):
            self.chord.clear()
            if kind != BOS:
                self.move_on = False
        if kind == BAR or kind == BOS:
            self.at = -1
        elif kind == POSITION:
            self.at = int(self.position[token])
        self.last = kind

    def mask(self) -> np.ndarray:
        if self.last == PITCH:
            return self.durations
        if self.bars:
            if self.last == BOS:
                return self.bar
            if self.last == BAR:
                return self.bar_or_position
            if self.last == POSITION:
                return self.pitches
            later = self.bar | (self.position > self.at)  # after a Duration
        else:
            later = self.shifts
        if self.move_on or (self.max_chord and len(self.chord) >= self.max_chord):
            return later
        allowed = self.pitches | later
        if self.chord:
            allowed[list(self.chord)] = False
        return allowed


register(TSDEncoding)
register(REMIEncoding)
