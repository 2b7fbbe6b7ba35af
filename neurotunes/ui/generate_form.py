"""The Generate page in words: take labels, a take's settings as a sentence, note values by name,
and "why this note?" per note (the model's choices in note names and note values, not tokens).

Everything here is plain Python over a :class:`~neurotunes.ui.state.Take` and the model's
encoding (through the :class:`~neurotunes.encodings.Encoding` interface: pitches a token adds,
the time it moves, whether it finishes a note), so a new encoding needs nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from ..config import GenerateConfig, settings_of
from ..encodings import Encoding
from ..keys import PITCH_CLASS_NAMES
from ..midi_io import gm_program_names
from ..score import Note, Score, pitch_name
from .state import Take

#: Note values by their length in quarter-note beats, longest first (the names a musician reads).
NOTE_VALUES: tuple[tuple[Fraction, str], ...] = (
    (Fraction(8), "double whole note"),
    (Fraction(6), "dotted whole note"),
    (Fraction(4), "whole note"),
    (Fraction(3), "dotted half note"),
    (Fraction(2), "half note"),
    (Fraction(3, 2), "dotted quarter note"),
    (Fraction(1), "quarter note"),
    (Fraction(3, 4), "dotted eighth note"),
    (Fraction(2, 3), "quarter-note triplet"),
    (Fraction(1, 2), "eighth note"),
    (Fraction(3, 8), "dotted sixteenth note"),
    (Fraction(1, 3), "eighth-note triplet"),
    (Fraction(1, 4), "sixteenth note"),
    (Fraction(1, 6), "sixteenth-note triplet"),
    (Fraction(1, 8), "thirty-second note"),
)
_NAMED = dict(NOTE_VALUES)


def number(value: float) -> str:
    """A setting's number as a person writes it: ``1.0``, ``1.3``, ``0.85`` (no float noise)."""
    text = f"{round(float(value), 3):g}"
    return text if "." in text or "e" in text else text + ".0"


def take_label(take: Take) -> str:
    """``Take 5 · temp 1.3 · seed 2 · 200 notes``: the settings a listener tells takes apart by."""
    cfg = take.config
    return f"Take {take.number} · temp {number(cfg.temperature)} · seed {cfg.seed} · {cfg.length} notes"


def with_article(text: str) -> str:
    """``"an eighth note"``, ``"a quarter note"`` (``"1.25 beats"`` stays as it is)."""
    if text[:1].isdigit() or text.startswith("no "):
        return text
    return ("an " if text[:1].lower() in "aeio" or text.startswith("eighth") else "a ") + text


def note_value(beats: float, *, short: bool = False) -> str:
    """The name of a length in quarter-note beats: ``0.5 -> "eighth note"``, ``1.25 -> "quarter note tied
    to a sixteenth note"``; a length no two note values make is given in beats.

    ``short`` names it as a chart's axis does: ``"eighth"``, ``"quarter + sixteenth"``.
    """
    def name(value: Fraction) -> str:
        full = _NAMED[value]
        return full.replace("-note", "").replace(" note", "") if short else full

    if beats <= 0:
        return "no time at all"
    length = Fraction(beats).limit_denominator(96)
    if length in _NAMED:
        return name(length)
    for value, _ in NOTE_VALUES:  # the longest value that fits, tied to one more
        rest = length - value
        if rest > 0 and rest in _NAMED:
            return f"{name(value)} + {name(rest)}" if short else f"{name(value)} tied to {with_article(name(rest))}"
    return f"{float(length):g} beats"


def where_in_bars(score: Score, note: Note) -> str:
    """``bar 3, beat 2`` (or ``beat 2.5``) of a note, counting quarter-note beats from the piece's start."""
    numerator, denominator = score.time_signature
    per_bar = numerator * 4 / denominator
    beats = note.start / score.seconds_per_beat
    bar = int(beats // per_bar + 1e-9)
    beat = beats - bar * per_bar + 1
    return f"bar {bar + 1}, beat {round(beat, 2):g}"


def settings_in_words(config: GenerateConfig, *, basics: bool = True) -> str:
    """``temperature 1.3, seed 2, 200 notes, top-k 20, C major scale``: the settings that differ from the
    defaults, in a musician's words; temperature, seed and length first, always (``basics=False``: never)."""
    default = GenerateConfig()
    parts = [f"temperature {number(config.temperature)}", f"seed {config.seed}", f"{config.length} notes"]
    parts = parts if basics else []
    said = {"temperature", "seed", "length"}

    def say(names: tuple[str, ...], text: str) -> None:
        said.update(names)
        if any(getattr(config, n) != getattr(default, n) for n in names):
            parts.append(text)

    say(("seconds",), f"at most {config.seconds:g} seconds")
    say(("top_k",), f"top-k {config.top_k}")
    say(("top_p",), f"top-p {config.top_p:g}")
    say(("pitch_top_p",), f"pitch top-p {config.pitch_top_p:g}")
    say(("repetition_penalty",), f"repetition penalty {config.repetition_penalty:g} "
                                 f"over the last {config.no_repeat_window} notes")
    said.add("no_repeat_window")  # said with the penalty, meaningless without it
    say(("beam_width",), f"beam search {config.beam_width} wide")
    say(("tempo_bpm",), f"{config.tempo_bpm:g} BPM")
    if config.program != default.program:
        parts.append(f"played on {gm_program_names()[config.program]}")
    said.add("program")
    say(("scale",), f"{PITCH_CLASS_NAMES[config.key]} {config.scale} scale")
    said.add("key")  # the key of a chromatic scale changes nothing
    say(("pitch_low", "pitch_high"), f"notes {pitch_name(config.pitch_low)} to {pitch_name(config.pitch_high)}")
    say(("density",), f"note density {config.density:g}")
    say(("max_chord",), f"at most {config.max_chord} notes at once")
    say(("transpose",), f"transposed {config.transpose:+d} semitones")
    for name, about, _ in settings_of(config):  # a setting added later is still named
        if name not in said and getattr(config, name) != getattr(default, name):
            parts.append(f"{(about.label or name).split(' (')[0].lower()} {getattr(config, name)}")
    return ", ".join(parts)


# --- why this note? ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """One decision the model made for a note: its likeliest options in words and the one it drew."""

    question: str  # "Which note" / "How long"
    options: list[str]
    probs: list[float]
    chosen: str


@dataclass(frozen=True)
class NoteChoices:
    """A generated note (or chord) and the steps of the trace that wrote it."""

    notes: tuple[int, ...]  # indices into the take's score.notes
    steps: tuple[int, ...]  # indices into the take's trace: the pitch first, then its length if separate


def note_steps(score: Score, trace: Sequence, encoding: Encoding) -> list[NoteChoices]:
    """Group a take's per-token trace into notes and find each note in the score.

    A note starts at a token that adds pitches and ends at the token that completes it
    (the same token in an encoding that writes a note in one token).  Its onset is the time
    the tokens before it moved, counted from the first generated note (after a primer the
    model's clock starts at the primer's last onset).  Notes not found (moved out of range
    by a transposition) are left out.
    """
    primer = int(score.metadata.get("primer_notes", 0))
    generated = score.notes[primer:]
    if not generated or not trace:
        return []
    step_s = score.seconds_per_beat / encoding.steps_per_quarter
    where: dict[tuple[int, int], int] = {}
    for i in range(primer, len(score.notes)):
        where.setdefault((round(score.notes[i].start / step_s), score.notes[i].pitch), i)
    groups: list[tuple[tuple[int, ...], int, tuple[int, ...]]] = []
    now, first = 0, None
    steps: list[int] = []
    pitches: tuple[int, ...] = ()
    onset = 0
    for k, step in enumerate(trace):
        added = encoding.token_pitches(step.token)
        if added:
            first = now if first is None else first
            steps, pitches, onset = [k], tuple(added), now
        if encoding.completes_note(step.token) and pitches:
            if steps[-1] != k:
                steps.append(k)
            groups.append((tuple(steps), onset, pitches))
            steps, pitches = [], ()
        now += encoding.token_time_steps(step.token)
    if first is None:
        return []
    base = round(generated[0].start / step_s) - first
    found = []
    for group_steps, at, group_pitches in groups:
        notes = tuple(where[(base + at, p)] for p in group_pitches if (base + at, p) in where)
        if notes:
            found.append(NoteChoices(notes, group_steps))
    return found


def describe_option(encoding: Encoding, token: str, *, pitch_token: str | None = None) -> str:
    """An option the model weighed, in a chart's few words: a pitch (``E4``), a chord (``C4+E4+G4``), a note
    held on (``hold C5``), a wait (``wait a quarter``) or a length (``eighth``, of the note ``pitch_token``
    began)."""
    pitches = encoding.token_pitches(token)
    if pitches:
        return "+".join(pitch_name(p) for p in pitches)
    held = encoding.token_held_pitches(token)
    if held:
        return "hold " + "+".join(pitch_name(p) for p in held)
    moved = encoding.token_time_steps(token)
    if moved:
        return f"wait {with_article(note_value(moved / encoding.steps_per_quarter, short=True))}"
    if pitch_token is not None:
        notes = encoding.decode([pitch_token, token], tempo_bpm=60.0).notes  # 60 BPM: one second is one beat
        if len(notes) == 1:
            return note_value(notes[0].duration, short=True)
    return token.lower().replace("_", " ")


def choices_for(note: NoteChoices, trace: Sequence, encoding: Encoding) -> list[Choice]:
    """What the model weighed for ``note``: which pitch, then (where the encoding decides it apart) how long."""
    first = trace[note.steps[0]].token
    out = []
    for i, k in enumerate(note.steps):
        step = trace[k]
        lead = None if i == 0 else first
        options = [describe_option(encoding, t, pitch_token=lead) for t in step.top_tokens]
        chosen = describe_option(encoding, step.token, pitch_token=lead)
        out.append(Choice("Which note" if i == 0 else "How long", options, list(step.top_probs), chosen))
    return out


def describe_note(score: Score, note: NoteChoices) -> str:
    """``E4, an eighth note, bar 3, beat 2`` (a chord: ``C4+E4+G4, a quarter note, ...``)."""
    notes = [score.notes[i] for i in note.notes]
    names = "+".join(pitch_name(n.pitch) for n in sorted(notes, key=lambda n: n.pitch))
    value = with_article(note_value(notes[0].duration / score.seconds_per_beat))
    return f"{names}, {value}, {where_in_bars(score, notes[0])}"
