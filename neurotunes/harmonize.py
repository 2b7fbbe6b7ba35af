"""Harmonize a melody: the melody as the soprano, alto, tenor and bass written by a model (BachBot's way).

A model on the ``frame`` encoding writes each frame's notes from the highest down,
so the first note of a frame is the soprano.  Harmonizing forces that note, frame
after frame, to be the melody's (``P_p`` where the melody strikes ``p``, ``H_p``
where it holds it) and lets the model write the three notes below it, under the
rules of four-part writing the model may not have learned well enough:

* exactly four notes a frame (the soprano and three below it);
* each lower voice inside its range (:data:`RANGES`);
* no more than an octave between soprano and alto or alto and tenor;
* no parallel fifths or octaves with a voice above.

Where no note fits every rule, the parallels rule gives way first, then the spacing, then the range
(never the order or the melody).  A key-normalised model gets the melody moved to
C major / A minor and the chorale moved back, so a melody keeps its key.

The melody is made singable first (:func:`prepare_melody`): its top line (a chord
or an overlap keeps its highest note), moved by octaves into the soprano's range,
on the model's grid, gaps filled by holding the note before, at most
:data:`MAX_MELODY_SECONDS` long.  Each change is reported in ``messages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import constants as C
from .bundle import ModelBundle
from .corpus import voices_to_musicxml
from .encodings import encoding_for, get as get_encoding
from .encodings.frame import FERMATA, HOLD, START, FrameEncoding
from .errors import BadConfig
from .generate import sample_from_logits
from .keys import piece_key
from .midi_io import score_to_midi
from .models import make_stepper
from .score import Note, Score, pitch_name

VOICES = ("Soprano", "Alto", "Tenor", "Bass")
#: Each voice's range as MIDI pitches (a little wider than the textbook's, as Bach's own chorales are).
RANGES = {"Soprano": (60, 81), "Alto": (53, 74), "Tenor": (45, 69), "Bass": (36, 62)}
#: Where a chorale melody sits (A4): a melody is moved by octaves so that its middle note lies nearest.
SOPRANO_MIDDLE = 69
#: Upper voices no more than an octave apart (soprano-alto, alto-tenor); the bass may lie further below.
MAX_UPPER_SPACING = 12
#: Perfect intervals (mod 12) that may not move in parallel between two voices: octave/unison and fifth.
PERFECT = (0, 7)
#: The sampler's temperature unless the caller sets one: at 1.0 the shipped chorale model's chords fit the key
#: less often than Bach's (diatonic-chord share 0.63-0.67 against 0.745 on ten held-out sopranos), at 0.8 as
#: often (0.74-0.76): benchmarks/harmonize.py --temperature.
DEFAULT_TEMPERATURE = 0.8
#: The longest melody harmonized; a longer one is cut here (and the cut is reported).
MAX_MELODY_SECONDS = 180.0


@dataclass(frozen=True)
class Harmonization:
    """A four-part chorale: ``score`` holds every note; ``voices[i]`` the indices in ``score.notes`` of voice i
    (:data:`VOICES` order); ``messages`` say what was changed in the melody to sing it."""

    score: Score
    voices: tuple[tuple[int, ...], ...]
    messages: tuple[str, ...]

    def voice(self, name: str) -> Score:
        """One voice as a score of its own."""
        indices = self.voices[VOICES.index(name)]
        return self.score.with_notes(self.score.notes[i] for i in indices)

    def to_midi(self) -> bytes:
        """A MIDI file with one named track per voice."""
        return score_to_midi(self.score, voices=list(zip(VOICES, self.voices)))

    def to_musicxml(self, title: str = "Chorale") -> bytes:
        """Sheet music on four staves: soprano, alto, tenor (treble clef an octave down), bass."""
        return voices_to_musicxml(self.score, [(name, self.voice(name)) for name in VOICES], title=title)


def can_harmonize(bundle: ModelBundle) -> bool:
    """Whether ``bundle`` writes frames top-down (the ``frame`` or ``beat-frame`` encoding), so its soprano can be
    forced."""
    return issubclass(get_encoding(bundle.encoding.name), FrameEncoding)


def prepare_melody(melody: Score, steps_per_quarter: int) -> tuple[list[tuple[int, bool] | None], Score, list[str]]:
    """The melody as frames a harmonizer forces: ``(pitch, struck)`` per grid step, and the melody as sung.

    Returns ``(frames, sung, messages)``: ``frames[t]`` is ``(pitch, True)`` where a note starts, ``(pitch,
    False)`` where it is held (never None: gaps are filled); ``sung`` is that line as a score; ``messages`` say
    what was changed (a chord reduced to its top note, octaves moved, a gap filled, a long melody cut).

    Raises
    ------
    BadConfig
        The melody has no pitched notes.
    """
    pitched = [n for n in melody.notes if not n.is_drum]
    if not pitched:
        raise BadConfig("the melody has no notes to harmonize")
    messages: list[str] = []
    step = melody.seconds_per_beat / steps_per_quarter
    first = min(n.start for n in pitched)
    # The top line: in each frame the highest note sounding there; a lower note under it is dropped.
    frames: dict[int, tuple[int, int]] = {}  # frame -> (pitch, which note)
    lower = 0
    for k, n in enumerate(sorted(pitched, key=lambda n: (-n.pitch, n.start))):
        onset = int(round((n.start - first) / step))
        offset = max(int(round((n.end - first) / step)), onset + 1)
        free = [t for t in range(onset, offset) if t not in frames]
        lower += len(free) < offset - onset
        frames.update((t, (n.pitch, k)) for t in free)
    if lower:
        messages.append(f"The melody had chords or overlapping notes: kept its top line ({lower} note"
                        f"{'s' if lower != 1 else ''} under it left out or shortened).")
    length = max(frames) + 1
    cap = int(MAX_MELODY_SECONDS / step)
    if length > cap:
        messages.append(f"The melody lasts {length * step:.0f} s: harmonized its first {MAX_MELODY_SECONDS:.0f} s.")
        length = cap
    line: list[tuple[int, bool] | None] = []
    for t in range(length):
        found = frames.get(t)
        line.append(None if found is None else (found[0], frames.get(t - 1, (0, -1))[1] != found[1]))
    gaps = 0
    for t, entry in enumerate(line):
        if entry is None:
            line[t] = (line[t - 1][0], False)  # frame 0 always has a note (the melody starts there)
            gaps += 1
    if gaps:
        messages.append("Rests in the melody are sung as the note before, held.")
    # Octaves: the whole line moved (by octaves, keeping its shape) to sit best in the soprano's range.
    pitches = np.array([p for p, _ in line])
    low, high = RANGES["Soprano"]
    middle = float(np.median(pitches))
    best = min(range(-4, 5), key=lambda k: (int(np.sum((pitches + 12 * k < low) | (pitches + 12 * k > high))),
                                            abs(middle + 12 * k - SOPRANO_MIDDLE), abs(k)))
    if best:
        messages.append(f"Moved the melody {abs(best)} octave{'s' if abs(best) != 1 else ''} "
                        f"{'up' if best > 0 else 'down'} into the soprano's range.")
    line = [(p + 12 * best, struck) for p, struck in line]
    outside = sorted({p for p, _ in line if not low <= p <= high})
    if outside:
        folded = []
        for p, struck in line:
            while p > high:
                p -= 12
            while p < low:
                p += 12
            folded.append((p, struck))
        line = folded
        messages.append("Notes outside the soprano's range (" + ", ".join(pitch_name(p) for p in outside) +
                        ") were moved by an octave to fit.")
    sung = _line_score(line, step, melody.tempo_bpm).replace(time_signature=melody.time_signature,
                                                             metadata=marks_from(melody, first))
    return line, sung, messages


def marks_from(melody: Score, first: float) -> dict[str, Any]:
    """The melody's pickup and fermatas (where its notation gave them, in quarter notes) for a line that starts
    at ``first`` seconds: both counted from there."""
    moved = first / melody.seconds_per_beat
    marks: dict[str, Any] = {}
    if C.PICKUP_KEY in melody.metadata or moved:  # unmarked, the score starts on a downbeat
        marks[C.PICKUP_KEY] = float(melody.metadata.get(C.PICKUP_KEY) or 0.0) + moved
    if C.FERMATAS_KEY in melody.metadata:
        marks[C.FERMATAS_KEY] = [float(b) - moved for b in melody.metadata[C.FERMATAS_KEY] if float(b) >= moved]
    return marks


def _line_score(line: Sequence[tuple[int, bool]], step: float, tempo_bpm: float) -> Score:
    notes, start = [], 0
    for t in range(1, len(line) + 1):
        if t == len(line) or line[t][1] or line[t][0] != line[start][0]:
            notes.append(Note(start=start * step, end=t * step, pitch=line[start][0]))
            start = t
    return Score(notes=tuple(notes), tempo_bpm=tempo_bpm)


def harmonize(bundle: ModelBundle, melody: Score, *, seed: int = 0, temperature: float = DEFAULT_TEMPERATURE,
              program: int = C.DEFAULT_PROGRAM) -> Harmonization:
    """Write alto, tenor and bass under ``melody`` with ``bundle`` (a ``frame`` model); see the module docstring.

    The same model, melody, seed and temperature always give the same chorale.

    Raises
    ------
    BadConfig
        The model does not write frames (:func:`can_harmonize`), the melody has no notes, or a bad temperature.
    """
    if not can_harmonize(bundle):
        raise BadConfig(f"{bundle.name} cannot harmonize: it does not write its voices top to bottom "
                        "(a model on the frame encoding does, such as the shipped default model)")
    if not 0.05 <= temperature <= 5.0:
        raise BadConfig(f"temperature must be 0.05-5, not {temperature!r}")
    encoding = encoding_for(bundle.encoding)
    vocab = bundle.vocab
    spq = bundle.encoding.steps_per_quarter
    line, sung, messages = prepare_melody(melody, spq)
    sung = sung.replace(key=piece_key(sung.replace(key=melody.key)))
    # Into the model's key (the chorale comes back out by as much).
    shift = sung.key.shift_to_reference() if bundle.key_normalized and sung.key else 0
    ids = {tok: i for i, tok in enumerate(vocab.tokens)}
    grammar = encoding.grammar(vocab, max_chord=len(VOICES))
    grammar.start()
    grammar.bar_steps = encoding.bar_steps(sung)  # frames that name the bar follow the melody's meter
    marked = encoding.fermata_frames(sung)
    fermatas = [ids[FERMATA] if t in marked else None for t in range(len(line))]
    pitch_of = grammar.pitch  # token id -> MIDI pitch (-1: not a note)
    stepper = make_stepper(bundle)
    rng = np.random.default_rng(seed)

    def feed(token: int) -> np.ndarray:
        grammar.observe(token)
        return stepper.step(token)

    def ranged(name: str) -> np.ndarray:
        low, high = RANGES[name]
        return (pitch_of >= low + shift) & (pitch_of <= high + shift)

    in_range = {name: ranged(name) for name in VOICES[1:]}
    logits = feed(ids[encoding.bos])
    for _ in range(encoding.lead_frames(sung)):  # a pickup: the empty frames of the first bar before it
        logits = feed(grammar.end_token())
    frames: list[list[tuple[int, bool]]] = []  # per frame, per voice: (pitch in the model's key, struck)
    previous: set[int] = set()
    for (soprano, struck), fermata in zip(line, fermatas):
        if fermata is not None:
            logits = feed(fermata)  # the phrase ends here: the model knows it before writing the chord
        p = soprano + shift
        if not struck and p not in previous:
            struck = True  # a held note the model never saw start (cannot happen after the first frame)
        token = ids.get(f"{START if struck else HOLD}_{p}")
        if token is None:
            raise BadConfig(f"the melody's {pitch_name(soprano)} is outside the model's notes")
        frame = [(p, struck)]
        logits = feed(token)
        before = [pitch for pitch, _ in frames[-1]] if frames and len(frames[-1]) == len(VOICES) else None
        for v, name in enumerate(VOICES[1:], start=1):
            allowed = grammar.mask() & ~grammar.bars
            upper = frame[-1][0]
            spaced = pitch_of >= upper - MAX_UPPER_SPACING if name != "Bass" else np.ones_like(allowed)
            smooth = _no_parallels(pitch_of, [pitch for pitch, _ in frame], before, v)
            for rule in (allowed & in_range[name] & spaced & smooth, allowed & in_range[name] & spaced,
                         allowed & in_range[name], allowed):
                if rule.any():
                    allowed = rule
                    break
            else:
                break  # nothing can go below (the soprano sits at the bottom of the model's notes)
            token = sample_from_logits(logits, rng, temperature=temperature, allowed=allowed)
            kind = vocab.tokens[token].split("_", 1)[0]
            frame.append((int(pitch_of[token]), kind == START))
            logits = feed(token)
        frames.append(frame)
        previous = {pitch for pitch, _ in frame}
        logits = feed(grammar.end_token())
    return _chorale(frames, shift, sung.seconds_per_beat / spq, sung, messages, program)


def _no_parallels(pitch_of: np.ndarray, above: list[int], before: list[int] | None, voice: int) -> np.ndarray:
    """The tokens whose pitch, as voice ``voice``, makes no parallel fifth or octave with a voice ``above`` it:
    both moving the same way from a perfect fifth (or octave, unison, compound or not) to the same interval
    since the frame ``before`` (all True when there is none to move from)."""
    ok = np.ones(len(pitch_of), dtype=bool)
    if before is None:
        return ok
    moves = pitch_of - before[voice]
    for u, now in enumerate(above):
        was = (before[u] - before[voice]) % 12
        if was not in PERFECT or now == before[u]:
            continue  # not a perfect interval, or the upper voice holds: no parallel with it
        parallel = (moves != 0) & (np.sign(moves) == np.sign(now - before[u])) & ((now - pitch_of) % 12 == was)
        ok &= ~parallel
    return ok


def _chorale(frames: list[list[tuple[int, bool]]], shift: int, step: float, sung: Score, messages: list[str],
             program: int) -> Harmonization:
    """Frames of (pitch, struck) per voice -> the four voices' notes, back in the melody's key."""
    voices: list[list[Note]] = [[] for _ in VOICES]
    current: list[tuple[int, int] | None] = [None] * len(VOICES)  # per voice: (pitch, onset frame)

    def close(v: int, t: int) -> None:
        if current[v] is not None:
            pitch, onset = current[v]
            voices[v].append(Note(start=onset * step, end=t * step, pitch=pitch - shift, program=program))
            current[v] = None

    for t, frame in enumerate(frames):
        for v in range(len(VOICES)):
            if v >= len(frame):
                close(v, t)
                continue
            pitch, struck = frame[v]
            if current[v] is not None and (struck or current[v][0] != pitch):
                close(v, t)
            if current[v] is None:
                current[v] = (pitch, t)
    for v in range(len(VOICES)):
        close(v, len(frames))
    notes = [n for voice in voices for n in voice]
    key = sung.key
    # The melody's meter, pickup and fermatas (where its notation gave them) go with the chorale: it is printed so.
    score = Score(notes=tuple(notes), tempo_bpm=sung.tempo_bpm, key=key, time_signature=sung.time_signature,
                  metadata={**sung.metadata, "source": "harmonized", "voices": list(VOICES)})
    where = {(round(n.start, 6), n.pitch): i for i, n in enumerate(score.notes)}
    indices = tuple(tuple(where[(round(n.start, 6), n.pitch)] for n in voice) for voice in voices)
    return Harmonization(score=score, voices=indices, messages=tuple(messages))
