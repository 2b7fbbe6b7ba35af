"""Frozen, validated configs that round-trip to JSON.

Each rejects bad values with a message that names the setting and its range,
so the CLI and the pages can show it as is.

A setting is declared once, as a dataclass field made by :func:`setting`: its
default, range, step, label and help text ride in the field's metadata (a
:class:`Setting`).  Validation here, the CLI's options (``cli.add_setting_options``),
the pages' widgets (``ui.widgets.setting_widgets``) and share links (``share.py``)
all read that one declaration, so a new setting is one field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterator, Mapping, TypeVar

from . import constants as C
from .errors import BadConfig
from .keys import PITCH_CLASS_NAMES
from .registry import architectures

T = TypeVar("T", bound="_Config")

#: The key of a :class:`Setting` in a dataclass field's metadata.
SETTING = "neurotunes.setting"
#: Page sections a setting can be drawn in (``Setting.page``); each page decides where a section goes.
PAGE_SECTIONS = ("main", "sampling", "constraints")
#: How a setting is drawn on a page (``Setting.widget``).
WIDGETS = ("slider", "number", "select", "instrument", "pitch range", "paired")


@dataclass(frozen=True)
class Setting:
    """What one config field accepts and how it is shown: the single declaration everything else reads.

    Attributes
    ----------
    kind
        ``int``, ``float``, ``str`` or ``bool``: what the value is.
    low, high
        The range the library accepts (numbers); ``low_open`` excludes ``low`` itself.
    step
        The page's step (and the sensible resolution of the value).
    choices
        The values a text setting may take (a scale's name, a learning-rate schedule).
    labels
        How the page names the whole numbers ``low``..``high`` (0 -> "C" for a key).
    optional
        ``None`` is allowed too (it means "not set").
    label, help
        What the page and the CLI call the setting, and what it does, in a musician's words.
    page, widget
        The page section it is drawn in (see :data:`PAGE_SECTIONS`; ``None``: not on a page) and
        how (see :data:`WIDGETS`; ``"paired"``: drawn by the setting that names it as ``pair``).
    pair
        The setting a two-ended widget ("pitch range") sets with this one (its upper end).
    ui_low, ui_high
        A narrower range the page offers (the library accepts ``low``..``high``; a link or the
        CLI may use the rest).  For a two-ended widget, both ends at ``ui_low``/``ui_high``
        mean "no limit": the settings' defaults.
    cli
        The CLI flag (``"--beam"``); ``None`` gives ``--name-with-dashes``, ``""`` leaves it out.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    labels: tuple[str, ...] = ()
    optional: bool = False
    low_open: bool = False
    label: str = ""
    help: str = ""
    page: str | None = None
    widget: str = "slider"
    pair: str | None = None
    ui_low: float | None = None
    ui_high: float | None = None
    cli: str | None = None

    def __post_init__(self) -> None:
        if self.page is not None and self.page not in PAGE_SECTIONS:
            raise ValueError(f"page must be one of {', '.join(PAGE_SECTIONS)}, got {self.page!r}")
        if self.widget not in WIDGETS:
            raise ValueError(f"widget must be one of {', '.join(WIDGETS)}, got {self.widget!r}")

    @property
    def page_range(self) -> tuple[float, float]:
        """The ends the page offers: the narrower UI range where one is declared, else the library's."""
        low = self.low if self.ui_low is None else self.ui_low
        high = self.high if self.ui_high is None else self.ui_high
        return low, high  # type: ignore[return-value]

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`BadConfig` naming ``name``, its range and ``value`` when the value does not fit."""
        if value is None and self.optional:
            return
        if self.choices:
            if value not in self.choices:
                raise BadConfig(f"{name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
            return
        if self.kind is bool:
            if not isinstance(value, bool):
                raise BadConfig(f"{name} must be true or false, got {value!r}")
            return
        if self.kind is str:
            if not isinstance(value, str):
                raise BadConfig(f"{name} must be text, got {value!r}")
            return
        integer = self.kind is int
        number = int if integer else (int, float)
        fits = (not isinstance(value, bool) and isinstance(value, number) and math.isfinite(value)
                and (self.low is None or (value > self.low if self.low_open else value >= self.low))
                and (self.high is None or value <= self.high))
        if not fits:
            if self.low_open:
                raise BadConfig(f"{name} must be above {self.low:g} and at most {self.high:g}, got {value!r}")
            what, low, high = ("a whole number", f"{self.low:.0f}", f"{self.high:.0f}") if integer else \
                ("a number", f"{self.low:g}", f"{self.high:g}")
            raise BadConfig(f"{name} must be {what} from {low} to {high}, got {value!r}")

    def parse(self, name: str, text: str) -> Any:
        """The value ``text`` spells (a share link's parameter), checked; :class:`BadConfig` if it is not one."""
        if self.optional and text in ("", "None"):
            return None
        try:
            if self.kind is bool:
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                value: Any = text.lower() == "true"
            else:
                value = self.kind(text)
        except ValueError:
            if self.kind is bool:
                raise BadConfig(f"{name} must be true or false, got {text[:64]!r}") from None
            whole = ", or not a whole one" if self.kind is int else ""
            raise BadConfig(f"{name} is not a number{whole}: {text[:64]!r}") from None
        self.check(name, value)
        return value


def setting(default: Any, low: float | None = None, high: float | None = None, *, kind: type | None = None,
            **about: Any) -> Any:
    """A dataclass field whose :class:`Setting` metadata declares its range, label, help, page and CLI flag.

    ``kind`` is taken from ``default`` unless given (an optional setting whose default is ``None``).

    Examples
    --------
    >>> @dataclass(frozen=True)
    ... class Echo(_Config):
    ...     delay_beats: float = setting(0.5, 0.0, 4.0, step=0.25, label="Echo delay (beats)",
    ...                                  help="How long after each note its echo sounds.", page="sampling")
    >>> Echo(delay_beats=9)
    Traceback (most recent call last):
    ...
    neurotunes.errors.BadConfig: delay_beats must be a number from 0 to 4, got 9
    """
    kind = kind or type(default)
    if "choices" in about:
        about["choices"] = tuple(about["choices"])
    if "labels" in about:
        about["labels"] = tuple(about["labels"])
    return field(default=default, metadata={SETTING: Setting(kind=kind, low=low, high=high, **about)})


def settings_of(config: Any) -> Iterator[tuple[str, Setting, Any]]:
    """``(name, Setting, default)`` for every declared setting of a config class (or instance), in field order."""
    for f in fields(config):
        if SETTING in f.metadata:
            yield f.name, f.metadata[SETTING], f.default


class _Config:
    """JSON round trip and range checks shared by every config.

    Fields made with :func:`setting` are checked from their metadata; a subclass adds
    checks that involve several settings in ``_check``.
    """

    def __post_init__(self) -> None:
        for name, about, _ in settings_of(self):
            about.check(name, getattr(self, name))
        self._check()

    def _check(self) -> None:
        """Checks across settings (the lowest pitch not above the highest); the per-setting ones come first."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        if not isinstance(data, Mapping):
            raise BadConfig(f"{cls.__name__} must be a JSON object")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise BadConfig(f"unknown {cls.__name__} settings: {', '.join(unknown)}")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise BadConfig(f"bad {cls.__name__}: {exc}") from None


LR_SCHEDULES = ("constant", "plateau", "cosine")
STRATEGIES = ("default", "mirrored", "multiworker")


@dataclass(frozen=True)
class ModelConfig(_Config):
    """Architecture of a sequence model over tokens.

    The reference preset is the classic one: 2 x LSTM 256, dropout 0.3.
    """

    arch: str = "lstm"  # a registered architecture: neurotunes.models.names(); each module says what it is
    vocab_size: int = setting(137, 2, 100_000)
    embedding_dim: int = setting(64, 1, 2048)
    units: int = setting(256, 1, 4096)
    layers: int = setting(2, 1, 12, help="recurrent layers; for cnn, dilated layers with dilations 1, 2, 4, ...")
    dropout: float = setting(0.3, 0.0, 0.9)
    context: int = setting(128, 8, 4096,
                           help="attention window (tokens) for lstm_attention and transformer; keep it at most "
                                "the training sequence length, so every distance it attends over was trained")

    def _check(self) -> None:
        architectures.get(self.arch)  # BadConfig naming the registered ones if it is not one of them


@dataclass(frozen=True)
class TrainConfig(_Config):
    """How to fit a model: chunk length, batches, epochs, optimizer."""

    sequence_length: int = setting(C.SEQUENCE_LENGTH, 8, 2048, help="tokens per training chunk")
    batch_size: int = setting(32, 1, 1024)
    epochs: int = setting(10, 1, 1000)
    learning_rate: float = setting(2e-3, 1e-6, 1.0)
    validation_fraction: float = setting(0.1, 0.0, 0.5)
    transpose_semitones: int = setting(0, 0, 6, help="augment with transpositions in -N..+N")
    patience: int = setting(3, 0, 100, help="early stopping on validation loss; 0 turns it off")
    seed: int = setting(0, 0, C.MAX_SEED)
    max_steps_per_epoch: int = setting(0, 0, 1_000_000,
                                       help="batches per epoch, cycling through the data; 0 = one pass over it")
    lr_schedule: str = setting("constant", choices=LR_SCHEDULES,
                               help="constant, plateau (halve when stuck) or cosine")
    strategy: str = setting("default", choices=STRATEGIES,
                            help="default (one device), mirrored (tf.distribute over every GPU) or multiworker "
                                 "(several machines, each running the same command, configured by TF_CONFIG)")


#: Scale name -> semitones above the key's tonic.
SCALES = {
    "chromatic": frozenset(range(12)),
    "major": frozenset({0, 2, 4, 5, 7, 9, 11}),
    "minor": frozenset({0, 2, 3, 5, 7, 8, 10}),
    "harmonic minor": frozenset({0, 2, 3, 5, 7, 8, 11}),
    "dorian": frozenset({0, 2, 3, 5, 7, 9, 10}),
    "major pentatonic": frozenset({0, 2, 4, 7, 9}),
    "minor pentatonic": frozenset({0, 3, 5, 7, 10}),
    "blues": frozenset({0, 3, 5, 6, 7, 10}),
}


@dataclass(frozen=True)
class GenerateConfig(_Config):
    """Sampling settings.  Same model + config + primer + seed -> the same notes.

    Each field declares its range, label and help once (:func:`setting`); the page
    offers a narrower range where a wider one is rarely useful (``ui_low``/``ui_high``),
    and the CLI and share links accept the library's whole range.
    """

    length: int = setting(C.DEFAULT_GENERATE_NOTES, 1, C.MAX_GENERATE_NOTES, step=10, ui_low=10, ui_high=1000,
                          label="Length (notes)", help="How many new notes to write (each note of a chord counts).",
                          page="main")
    seconds: float = setting(0.0, 0, C.MAX_GENERATE_SECONDS, step=5, ui_high=600,
                             label="Stop after (seconds, 0 = by notes only)",
                             help="Also stop once the music lasts this long; 0 stops by the number of notes only.",
                             page="sampling")
    temperature: float = setting(C.DEFAULT_TEMPERATURE, 0.05, 5.0, step=0.05, ui_low=0.1, ui_high=2.0,
                                 label="Temperature",
                                 help="How daring the melody is: lower keeps to the likeliest notes (safe, "
                                      "repetitive), higher tries rarer ones (adventurous, wilder).",
                                 page="main")
    top_k: int = setting(0, 0, 100_000, step=1, ui_high=100, label="Top-k (0 = off)",
                         help="Choose only among the k likeliest next notes (0 = any note may come).", page="sampling")
    top_p: float = setting(1.0, 0.0, 1.0, low_open=True, step=0.05, ui_low=0.05, label="Top-p (1 = off)",
                           help="Choose only among the likeliest next notes that together hold this share of the "
                                "chance (1 = any note may come).", page="sampling")
    pitch_top_p: float = setting(1.0, 0.0, 1.0, low_open=True, step=0.05, ui_low=0.5,
                                 label="Pitch top-p (1 = off)",
                                 help="Choose each new note's pitch only among the likeliest pitches that together "
                                      "hold this share of their chance; whether a note starts, is held or rests "
                                      "stays the model's (1 = any pitch may come). 0.9 gives cleaner harmony: "
                                      "fewer chords outside the key.",
                                 page="sampling")
    repetition_penalty: float = setting(1.0, 1.0, 10.0, step=0.1, ui_high=5.0, label="Repetition penalty",
                                        help="Make notes heard in the last few notes less likely, so the tune "
                                             "moves on (1 = off).",
                                        page="sampling")
    no_repeat_window: int = setting(8, 0, 64, step=1, ui_low=1, ui_high=32, label="…over the last N notes",
                                    help="How many recent notes the repetition penalty remembers.", page="sampling")
    beam_width: int = setting(1, 1, 16, step=1, ui_high=8, label="Beam search width (1 = sample)",
                              help="Above 1: the most likely continuation instead of a random one (slower, calmer).",
                              page="sampling", cli="--beam")
    seed: int = setting(0, 0, C.MAX_SEED, step=1, widget="number", label="Seed",
                        help="The roll of the dice: the same model, settings and seed always give the same music; "
                             "change it for another take.", page="main")
    # The Score's own tempo range: a take at any tempo a Score can hold.
    tempo_bpm: float = setting(100.0, C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM, step=1, ui_low=40, ui_high=220,
                               label="Tempo (BPM)",
                               help="Quarter notes per minute: 60 is slow, 100 moderate, 160 fast.", page="main",
                               cli="--bpm")
    program: int = setting(C.DEFAULT_PROGRAM, 0, C.MIDI_PROGRAM_MAX, widget="instrument", label="Instrument",
                           help="The General MIDI instrument that plays the result (0 = piano, 40 = violin).",
                           page="main")
    scale: str = setting("chromatic", choices=SCALES, widget="select", label="Scale",
                         help="Keep every note in this scale on the key below (chromatic: any note).",
                         page="constraints")
    key: int = setting(0, 0, 11, labels=PITCH_CLASS_NAMES, widget="select", label="Key",
                       help="The scale's home note: C with major gives C major, A with minor gives A minor.",
                       page="constraints")
    pitch_low: int = setting(C.MIDI_PITCH_MIN, C.MIDI_PITCH_MIN, C.MIDI_PITCH_MAX, widget="pitch range",
                             pair="pitch_high", ui_low=C.PITCH_LOW, ui_high=C.PITCH_HIGH, label="Pitch range",
                             help="The lowest and highest notes allowed (C4 is middle C; as MIDI numbers, 60 = C4).",
                             page="constraints")
    pitch_high: int = setting(C.MIDI_PITCH_MAX, C.MIDI_PITCH_MIN, C.MIDI_PITCH_MAX, widget="paired",
                              label="Highest pitch",
                              help="The highest note allowed (as a MIDI number: 60 = C4, middle C).",
                              page="constraints")
    density: float = setting(1.0, 0.1, 10.0, step=0.05, ui_low=0.25, ui_high=4.0, label="Note density",
                             help="How busy the rhythm is: above 1 favours shorter notes and gaps, below 1 longer "
                                  "ones.", page="constraints")
    max_chord: int = setting(0, 0, 16, step=1, ui_high=8, label="Most notes at once (0 = any)",
                             help="The most notes that may start together (0 = no limit).", page="constraints")
    transpose: int = setting(0, -12, 12, step=1, label="Transpose (semitones)",
                             help="Move the result up or down (a key-normalised model writes in C major / A minor).",
                             page="constraints")

    def _check(self) -> None:
        if self.pitch_low > self.pitch_high:
            raise BadConfig(f"the lowest pitch ({self.pitch_low}) is above the highest ({self.pitch_high})")

    def allowed_pitches(self) -> set[int]:
        """Pitches the scale lock and the range allow."""
        steps = SCALES[self.scale]
        return {p for p in range(self.pitch_low, self.pitch_high + 1) if (p - self.key) % 12 in steps}

    def summary(self) -> str:
        """The settings a listener tells takes apart by, on one line: ``temperature 1.0 · seed 3 · 200 notes``."""
        parts = [f"temperature {self.temperature}", f"seed {self.seed}", f"{self.length} notes"]
        if self.beam_width > 1:
            parts.append(f"beam {self.beam_width}")
        if self.scale != "chromatic":
            parts.append(f"{self.scale} on {PITCH_CLASS_NAMES[self.key]}")
        if self.transpose:
            parts.append(f"transposed {self.transpose:+d}")
        return " · ".join(parts)


@dataclass(frozen=True)
class TranscribeConfig(_Config):
    """Basic Pitch settings, with Basic Pitch's own defaults."""

    onset_threshold: float = setting(C.BP_ONSET_THRESHOLD, 0.01, 0.99)
    frame_threshold: float = setting(C.BP_FRAME_THRESHOLD, 0.01, 0.99)
    minimum_note_length_ms: float = setting(C.BP_MIN_NOTE_MS, 1, 5000)
    minimum_frequency: float | None = setting(None, 1, 20_000, kind=float, optional=True)
    maximum_frequency: float | None = setting(None, 1, 20_000, kind=float, optional=True)
    midi_tempo: float = setting(C.BP_MIDI_TEMPO, C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM)
    melodia_trick: bool = True
    multiple_pitch_bends: bool = False
    max_seconds: float = setting(C.MAX_AUDIO_SECONDS, 1, 4 * 60 * 60)

    def _check(self) -> None:
        if (
            self.minimum_frequency is not None
            and self.maximum_frequency is not None
            and self.minimum_frequency >= self.maximum_frequency
        ):
            raise BadConfig("minimum_frequency must be below maximum_frequency")


QUANTIZE_GRIDS = {"off": 0, "1/8": 2, "1/16": 4}  # grid name -> steps per quarter note


@dataclass(frozen=True)
class PostProcessConfig(_Config):
    """Clean-up applied to a transcription before it joins a dataset."""

    quantize: str = setting("off", choices=QUANTIZE_GRIDS, help="snap to a grid: off, 1/8 or 1/16")
    monophonic: bool = False  # keep only the top melody line
    min_note_ms: float = setting(0.0, 0, 5000, help="drop notes shorter than this (0 = keep all)")
    normalize_velocity: bool = False  # scale so the loudest note has velocity 100
    tempo_bpm: float | None = setting(None, C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM, kind=float, optional=True,
                                      help="grid tempo for quantizing; None = the tempo estimated from the audio")

    @property
    def is_identity(self) -> bool:
        return self == PostProcessConfig()
