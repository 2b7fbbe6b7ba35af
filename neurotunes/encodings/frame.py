"""The frame encoding: voices top to bottom on a fixed grid, ties marked (after BachBot, Liang 2016).

Time is cut into frames of one grid step (``steps_per_quarter`` per quarter note:
2 gives eighth-note frames, as chorale presets use), and a piece becomes

``BOS  P_72 P_67 P_64 P_48 |  H_72 H_67 P_62 H_48 |  | ...``

* ``P_p`` — a note of MIDI pitch ``p`` starts in this frame.
* ``H_p`` — pitch ``p`` is held (tied) from the previous frame.
* ``|`` — end of the frame: time moves on one grid step.  A frame with nothing
  sounding is just ``|``; the piece ends with the frame of its last sounding note.
* ``BOS`` — start of a piece (also used as the "silence" primer).

The ``beat-frame`` variant (:class:`BeatFrameEncoding`) writes the end of a
frame as ``|k``: time moves on one step and the next frame is step ``k`` of its
beat (``|0`` starts a beat).  The same information, but a model no longer has to
count frames to know where the beat falls, so it learns where notes start (on
beats, on eighths, rarely on sixteenths) instead of drifting off the beat.

Inside a frame the pitches come strictly from the highest down, so the first
note of a frame is the soprano: a harmonizer can force it and let the model
write the voices below.  Two notes of the same pitch that overlap become one.
The vocabulary is fixed by the encoding config; pitches outside its range are
folded by octaves.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .. import constants as C
from ..score import Note, Score
from .base import BOS, Encoding, fold_pitch, Grammar, Vocabulary, register

START, HOLD, BAR, FERMATA = "P", "H", "|", "F"
#: Notes a frame may hold when the sampler sets no chord cap (four voices, doubled, and some room).
FRAME_MAX_NOTES = 8


def _parse(token: str) -> tuple[str, int | None]:
    """``"P_60"`` -> ``("P", 60)``, ``"H_60"`` -> ``("H", 60)``; ``|``, BOS or anything else -> ``(token, None)``.
    (A beat-frame delimiter ``|k`` comes back as itself: :meth:`FrameEncoding._is_end` knows it.)"""
    kind, sep, value = token.partition("_")
    if sep and kind in (START, HOLD):
        try:
            pitch = int(value)
        except ValueError:
            return token, None
        if C.MIDI_PITCH_MIN <= pitch <= C.MIDI_PITCH_MAX:
            return kind, pitch
    return token, None


class FrameEncoding(Encoding):
    """Frames of descending pitches with tie marks, BachBot's chorale format (see the module docstring)."""

    name = "frame"
    description = "Frames: voices top to bottom on a fixed grid, ties marked (BachBot; for chorales and part-writing)"
    fixed_vocabulary = True

    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        """Fixed by the config: BOS, the frame ends, every P in range, every H in range (``scores`` are not
        needed)."""
        pitches = range(self.config.pitch_low, self.config.pitch_high + 1)
        return Vocabulary([BOS, *self.frame_ends(), *(f"{START}_{p}" for p in pitches),
                           *(f"{HOLD}_{p}" for p in pitches)])

    def frame_ends(self) -> tuple[str, ...]:
        """The tokens that end a frame, indexed by where in the beat the next frame falls (one ``|`` here:
        a plain frame does not say)."""
        return (BAR,)

    def frame_end(self, frame: int) -> str:
        """The token that ends frame number ``frame`` (counted from 0 at the start of the piece)."""
        ends = self.frame_ends()
        return ends[(frame + 1) % len(ends)]

    def _is_end(self, token: str) -> bool:
        ends = self.__dict__.get("_ends")
        if ends is None:
            ends = self.__dict__["_ends"] = frozenset(self.frame_ends())
        return token in ends

    def encode(self, score: Score, *, bos: bool = True) -> list[str]:
        frames = self._frames(score)
        lead = self.lead_frames(score)
        marked = self.fermata_frames(score)
        end_of = self.frame_namer(score)
        tokens = [BOS] if bos else []
        for t in range(-lead, max(frames) + 1 if frames else 0):
            if t in marked:
                tokens.append(FERMATA)
            tokens += [tok for _, tok in sorted(frames.get(t, ()), reverse=True)]  # the highest voice first
            tokens.append(end_of(t + lead))
        return tokens

    def _frames(self, score: Score) -> dict[int, list[tuple[int, str]]]:
        """Frame number -> the ``(pitch, token)`` of every note starting or held there (unordered)."""
        enc = self.config
        step = score.seconds_per_beat / enc.steps_per_quarter
        spans: dict[int, list[list[int]]] = {}  # pitch -> [onset frame, offset frame) spans
        for n in score.notes:
            if n.is_drum:
                continue
            onset = int(round(n.start / step))
            offset = max(int(round(n.end / step)), onset + 1)  # a note lasts at least one frame
            spans.setdefault(fold_pitch(n.pitch, enc.pitch_low, enc.pitch_high), []).append([onset, offset])
        frames: dict[int, list[tuple[int, str]]] = {}
        for pitch, found in spans.items():
            merged: list[list[int]] = []
            for onset, offset in sorted(found):
                if merged and onset < merged[-1][1]:  # overlaps the previous note of this pitch: one note
                    merged[-1][1] = max(merged[-1][1], offset)
                else:
                    merged.append([onset, offset])
            for onset, offset in merged:
                frames.setdefault(onset, []).append((pitch, f"{START}_{pitch}"))
                for t in range(onset + 1, offset):
                    frames.setdefault(t, []).append((pitch, f"{HOLD}_{pitch}"))
        return frames

    def frame_namer(self, score: Score) -> Callable[[int], str]:
        """``frame -> the token that ends it`` for ``score`` (frames counted from the first written one)."""
        return self.frame_end

    def bar_steps(self, score: Score) -> int | None:
        """Frames in one of ``score``'s bars, where the frame ends name the bar (None: they do not)."""
        return None

    def lead_frames(self, score: Score) -> int:
        """Empty frames written before the piece's first frame (none here: see :class:`BarFrameEncoding`)."""
        return 0

    def fermata_frames(self, score: Score) -> frozenset[int]:
        """Frames whose notes stand under a fermata, marked in the tokens (none here: see :class:`BarFrameEncoding`)."""
        return frozenset()

    def decode(
        self,
        tokens: Iterable[str],
        *,
        tempo_bpm: float = C.DEFAULT_TEMPO_BPM,
        program: int = C.DEFAULT_PROGRAM,
        velocity: int = C.DEFAULT_VELOCITY,
        metadata: Mapping[str, Any] | None = None,
    ) -> Score:
        """Decoding is forgiving: a pitch that does not go down from the one before it in its frame is skipped
        (so is an unknown token), an ``H`` with nothing to hold starts a note, and a frame left open at the
        end is closed.  ``BOS`` mid-sequence closes the frame and ties nothing across it."""
        step = 60.0 / tempo_bpm / self.config.steps_per_quarter
        notes: list[Note] = []
        frame = 0
        held: dict[int, int] = {}  # pitch -> onset frame, for notes sounding in the previous frame
        now: dict[int, int] = {}  # the same for the frame being read
        lowest: int | None = None  # the last pitch of the current frame

        def end(pitch: int, onset: int, offset: int) -> None:
            notes.append(Note(pitch=pitch, start=onset * step, end=offset * step, velocity=velocity, program=program))

        def close_frame() -> None:
            nonlocal held, now, frame, lowest
            for pitch, onset in held.items():  # not continued into this frame: ends where the frame begins
                end(pitch, onset, frame)
            held, now, frame, lowest = now, {}, frame + 1, None

        for tok in tokens:
            kind, pitch = _parse(tok)
            if self._is_end(tok):
                close_frame()
            elif pitch is not None:
                if lowest is not None and pitch >= lowest:
                    continue  # out of order, or twice in one frame
                lowest = pitch
                if pitch in held:
                    onset = held.pop(pitch)
                    if kind == HOLD:
                        now[pitch] = onset
                        continue
                    end(pitch, onset, frame)  # struck again: the old note ends here
                now[pitch] = frame
            elif kind == BOS:
                if now:
                    close_frame()
                for pitch, onset in held.items():
                    end(pitch, onset, frame)
                held = {}
        if now:
            close_frame()
        for pitch, onset in held.items():
            end(pitch, onset, frame)
        return Score(notes=tuple(notes), tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))

    def token_pitches(self, token: str) -> tuple[int, ...]:
        kind, pitch = _parse(token)
        return (pitch,) if kind == START else ()  # a held note adds no new pitch

    def token_held_pitches(self, token: str) -> tuple[int, ...]:
        kind, pitch = _parse(token)
        return (pitch,) if kind == HOLD else ()

    def token_time_steps(self, token: str) -> int:
        return 1 if self._is_end(token) else 0

    def completes_note(self, token: str) -> bool:
        return _parse(token)[0] == START

    def transpose_token(self, token: str, semitones: int) -> str:
        kind, pitch = _parse(token)
        if pitch is None:
            return token
        return f"{kind}_{fold_pitch(pitch + semitones, self.config.pitch_low, self.config.pitch_high)}"

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> "FrameGrammar":
        return FrameGrammar(vocab, max_chord, self.frame_ends())


class FrameGrammar(Grammar):
    """Within a frame, pitches strictly descending; ``H_p`` only for a pitch that sounded in the previous
    frame; at most ``max_chord`` notes a frame (:data:`FRAME_MAX_NOTES` when 0); never BOS; a frame ends with
    the one delimiter of ``ends`` that names where the next frame falls (``ends[k]`` leads into step ``k`` of
    the beat; a single delimiter says nothing).  Tokens are taken in as :meth:`FrameEncoding.decode` reads them
    (an out-of-order pitch changes nothing); a delimiter read resets the count, so a primer sets the beat."""

    #: Frames in a bar where the frame ends name the bar and something (the harmonizer) sets the meter.
    bar_steps: int | None = None

    def __init__(self, vocab: Vocabulary, max_chord: int = 0, ends: tuple[str, ...] = (BAR,)):
        parsed = [_parse(t) for t in vocab.tokens]
        self.kind = np.array([k for k, _ in parsed], dtype=object)
        self.pitch = np.array([-1 if p is None else p for _, p in parsed], dtype=np.int64)
        self.starts = np.array([k == START for k, _ in parsed])
        self.end_ids = tuple(vocab.index[t] for t in ends)
        self.end_step = {token: k for k, token in enumerate(self.end_ids)}
        self.bars = np.zeros(len(vocab), dtype=bool)  # every frame end, whichever step it leads into
        self.bars[list(self.end_ids)] = True
        self.bars.setflags(write=False)
        self._end_masks = []
        for token in self.end_ids:  # the frame ends allowed next, by step: returned as masks, nobody writes
            only = np.zeros(len(vocab), dtype=bool)
            only[token] = True
            only.setflags(write=False)
            self._end_masks.append(only)
        self.hold_id = {p: i for i, (k, p) in enumerate(parsed) if k == HOLD}
        self.cap = max_chord if max_chord > 0 else FRAME_MAX_NOTES
        super().__init__(len(vocab))

    def start(self) -> None:
        self.held: set[int] = set()  # pitches sounding in the previous frame
        self.now: set[int] = set()
        self.lowest = C.MIDI_PITCH_MAX + 1
        self.step = 0  # where in the beat the current frame is

    def copy(self) -> "FrameGrammar":
        other = super().copy()
        other.held, other.now = set(self.held), set(self.now)
        return other

    def end_token(self) -> int:
        """The id of the token that ends the current frame."""
        return self.end_ids[(self.step + 1) % len(self.end_ids)]

    def observe(self, token: int) -> None:
        kind, pitch = self.kind[token], int(self.pitch[token])
        step = self.end_step.get(token)
        if step is not None:
            self.held, self.now, self.lowest = self.now, set(), C.MIDI_PITCH_MAX + 1
            self.step = step
        elif kind == BOS:
            self.start()
        elif pitch >= 0 and pitch < self.lowest:
            self.now.add(pitch)
            self.lowest = pitch

    def end_mask(self) -> np.ndarray:
        """The frame ends that may come next (one, for these frames)."""
        return self._end_masks[(self.step + 1) % len(self._end_masks)]

    def mask(self) -> np.ndarray:
        end = self.end_mask()
        if len(self.now) >= self.cap:
            return end
        allowed = self.starts & (self.pitch < self.lowest)
        allowed |= end
        for pitch in self.held:
            i = self.hold_id.get(pitch)
            if i is not None and pitch < self.lowest:
                allowed[i] = True
        return allowed


register(FrameEncoding)


class BeatFrameEncoding(FrameEncoding):
    """Frames whose ends say where the beat falls (see the module docstring): the chorale model's encoding."""

    name = "beat-frame"
    description = "Beat frames: BachBot's frames, each frame end marking its place in the beat (chorales)"

    def frame_ends(self) -> tuple[str, ...]:
        return tuple(f"{BAR}{k}" for k in range(self.config.steps_per_quarter))


register(BeatFrameEncoding)


#: The longest bar the bar-frame encoding names, in quarter notes (4/4); longer bars are written as halves.
BAR_QUARTERS = 4
#: Bar lengths (in quarter notes) a bar-frame take may choose when nothing sets its meter: 3/4 or 4/4.
FREE_BAR_QUARTERS = (3, 4)


class BarFrameEncoding(BeatFrameEncoding):
    """Frames whose ends say where the bar falls, with phrase ends marked: the chorale model's encoding
    (DeepBach's beat-of-bar and BachBot's fermatas on BachBot's frames).

    ``BOS |1 |2 ... F P_72 P_67 P_64 P_48 |13 H_72 ...``

    * ``|k`` ends a frame: the next frame is step ``k`` of its bar (``|0`` starts a bar).  A piece that opens
      with a pickup starts with the empty frames of its first bar's missing part, so its first notes fall
      where they stand in the bar.
    * ``F`` opens a frame whose new notes stand under a fermata (the end of a phrase), before its notes, so a
      model decides to end a phrase before it writes the chord that ends it.

    Bars of up to :data:`BAR_QUARTERS` quarter notes are named as they are (3/4: ``|0`` to ``|11`` on a sixteenth
    grid); a longer bar is written as halves (3/2 as two bars of 3/4).  Where a piece's metadata
    says nothing (:data:`~neurotunes.constants.PICKUP_KEY`, :data:`~neurotunes.constants.FERMATAS_KEY`, as
    :func:`neurotunes.corpus.stream_to_score` fills in), it starts on a downbeat and has no fermatas.  Decoding
    leaves out the silence of a pickup's missing part and ignores ``F``.
    """

    name = "bar-frame"
    description = "Bar frames: beat frames naming their place in the bar, phrase ends (fermatas) marked (chorales)"

    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        tokens = list(super().vocabulary().tokens)
        tokens.insert(1 + len(self.frame_ends()), FERMATA)
        return Vocabulary(tokens)

    def frame_ends(self) -> tuple[str, ...]:
        return tuple(f"{BAR}{k}" for k in range(BAR_QUARTERS * self.config.steps_per_quarter))

    def bar_steps(self, score: Score) -> int:
        """Steps in one of ``score``'s bars, as written (see the class docstring)."""
        num, den = score.time_signature
        quarters = num * 4 / den
        while quarters > BAR_QUARTERS and quarters % 2 == 0:
            quarters /= 2
        steps = int(round(quarters * self.config.steps_per_quarter))
        return min(max(steps, 1), len(self.frame_ends()))

    def frame_namer(self, score: Score) -> Callable[[int], str]:
        ends, steps = self.frame_ends(), self.bar_steps(score)
        return lambda frame: ends[(frame + 1) % steps]

    def lead_frames(self, score: Score) -> int:
        pickup = float(score.metadata.get(C.PICKUP_KEY, 0.0) or 0.0)
        return int(round(pickup * self.config.steps_per_quarter)) % self.bar_steps(score)

    def fermata_frames(self, score: Score) -> frozenset[int]:
        beats = score.metadata.get(C.FERMATAS_KEY) or ()
        return frozenset(int(round(float(b) * self.config.steps_per_quarter)) for b in beats)

    def decode(self, tokens: Iterable[str], **kwargs: Any) -> Score:
        """Frames as :meth:`FrameEncoding.decode` reads them, moved to start with the first note; the bars and
        marks read become the score's time signature (3/4 where every bar closed after three quarter notes,
        else 4/4) and metadata (:data:`~neurotunes.constants.PICKUP_KEY`, :data:`~neurotunes.constants.FERMATAS_KEY`),
        so a take is engraved with its bar lines and fermatas where the model put them."""
        tokens = list(tokens)
        score = super().decode(tokens, **kwargs)
        if not score.notes:
            return score
        spq = self.config.steps_per_quarter
        steps = [0]  # the bar step of each frame read (a piece opens on a downbeat)
        fermatas: list[int] = []
        bars: set[int] = set()  # the lengths of the bars that closed, in steps
        for tok in tokens:
            if tok == FERMATA:
                fermatas.append(len(steps) - 1)
            elif self._is_end(tok):
                k = int(tok[len(BAR):])
                if k == 0:
                    bars.add(steps[-1] + 1)
                steps.append(k)
        first = min(n.start for n in score.notes)
        step = score.seconds_per_beat / spq
        lead = int(round(first / step))
        marks = {C.PICKUP_KEY: steps[lead] / spq if lead < len(steps) else 0.0,
                 C.FERMATAS_KEY: [(f - lead) / spq for f in fermatas if f >= lead]}
        meter = (3, 4) if bars and bars == {3 * spq} else C.DEFAULT_TIME_SIGNATURE
        notes = tuple(replace(n, start=n.start - first, end=n.end - first) for n in score.notes) if first > 0 \
            else score.notes
        return score.replace(notes=notes, time_signature=meter, metadata={**score.metadata, **marks})

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> "BarFrameGrammar":
        return BarFrameGrammar(vocab, max_chord, self.frame_ends(), self.config.steps_per_quarter)


class BarFrameGrammar(FrameGrammar):
    """:class:`FrameGrammar` with ``F`` allowed once, first in a frame, and frame ends that follow the bar: the
    next step of a bar of ``bar_steps`` (a meter set by whoever forces the frames, as the harmonizer does), or,
    while it is None, of a bar of 3 or 4 quarter notes (:data:`FREE_BAR_QUARTERS`), the model choosing."""

    def __init__(self, vocab: Vocabulary, max_chord: int, ends: tuple[str, ...], steps_per_quarter: int):
        super().__init__(vocab, max_chord, ends)
        self.fermata_id = vocab.index[FERMATA]
        n = len(ends)
        bar_ends = {q * steps_per_quarter for q in FREE_BAR_QUARTERS}  # steps after which a free bar may close
        self._free_masks = []  # by the step just written: the ends allowed with a free meter
        for step in range(n):
            mask = np.zeros(len(vocab), dtype=bool)
            mask[self.end_ids[(step + 1) % n]] = True
            if (step + 1) in bar_ends:
                mask[self.end_ids[0]] = True
            mask.setflags(write=False)
            self._free_masks.append(mask)

    def start(self) -> None:
        super().start()
        self.marked = False

    def end_token(self) -> int:
        steps = self.bar_steps or len(self.end_ids)
        return self.end_ids[(self.step + 1) % steps]

    def end_mask(self) -> np.ndarray:
        if self.bar_steps:
            return self._end_masks[(self.step + 1) % self.bar_steps]
        return self._free_masks[self.step % len(self._free_masks)]

    def observe(self, token: int) -> None:
        if token == self.fermata_id:
            self.marked = True
            return
        if token in self.end_step:
            self.marked = False
        super().observe(token)

    def mask(self) -> np.ndarray:
        allowed = super().mask()
        if not self.now and not self.marked:
            allowed = allowed.copy()
            allowed[self.fermata_id] = True
        return allowed


register(BarFrameEncoding)
