"""Frozen, validated configs that round-trip to JSON.

Each rejects bad values with a message that names the setting and its range,
so the CLI and the pages can show it as is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, TypeVar

from . import constants as C
from .errors import BadConfig

T = TypeVar("T", bound="_Config")


class _Config:
    """JSON round trip and range checks shared by every config."""

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

    def _check_range(self, name: str, low: float, high: float, *, integer: bool = False) -> None:
        value = getattr(self, name)
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or not low <= value <= high:
            what = "a whole number" if integer else "a number"
            raise BadConfig(f"{name} must be {what} from {low:g} to {high:g}, got {value!r}")


ARCHITECTURES = ("lstm", "gru", "rnn", "lstm_attention", "cnn")
RECURRENT = ("lstm", "gru", "rnn")
LR_SCHEDULES = ("constant", "plateau", "cosine")


@dataclass(frozen=True)
class ModelConfig(_Config):
    """Architecture of a sequence model over tokens.

    The reference preset is the classic one: 2 x LSTM 256, dropout 0.3.
    """

    arch: str = "lstm"  # lstm, gru, rnn (SimpleRNN), lstm_attention, cnn (dilated causal, WaveNet-like)
    vocab_size: int = 137
    embedding_dim: int = 64
    units: int = 256
    layers: int = 2  # recurrent layers; for cnn, dilated layers with dilations 1, 2, 4, ...
    dropout: float = 0.3
    context: int = 128  # attention window (tokens) for lstm_attention; the training chunk length

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise BadConfig(f"unknown architecture {self.arch!r}; available: {', '.join(ARCHITECTURES)}")
        self._check_range("vocab_size", 2, 100_000, integer=True)
        self._check_range("embedding_dim", 1, 2048, integer=True)
        self._check_range("units", 1, 4096, integer=True)
        self._check_range("layers", 1, 12, integer=True)
        self._check_range("dropout", 0.0, 0.9)
        self._check_range("context", 8, 4096, integer=True)


@dataclass(frozen=True)
class TrainConfig(_Config):
    """How to fit a model: chunk length, batches, epochs, optimizer."""

    sequence_length: int = C.SEQUENCE_LENGTH
    batch_size: int = 32
    epochs: int = 10
    learning_rate: float = 2e-3
    validation_fraction: float = 0.1
    transpose_semitones: int = 0  # augment with transpositions in -N..+N
    patience: int = 3  # early stopping on validation loss; 0 turns it off
    seed: int = 0
    max_steps_per_epoch: int = 0  # batches per epoch, cycling through the data; 0 = one pass over it
    lr_schedule: str = "constant"  # "constant", "plateau" (halve when stuck) or "cosine"
    strategy: str = "default"  # "default" (one device) or "mirrored" (tf.distribute over every GPU)

    def __post_init__(self) -> None:
        if self.strategy not in ("default", "mirrored"):
            raise BadConfig(f"strategy must be 'default' or 'mirrored', got {self.strategy!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise BadConfig(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        self._check_range("sequence_length", 8, 2048, integer=True)
        self._check_range("batch_size", 1, 1024, integer=True)
        self._check_range("epochs", 1, 1000, integer=True)
        self._check_range("learning_rate", 1e-6, 1.0)
        self._check_range("validation_fraction", 0.0, 0.5)
        self._check_range("transpose_semitones", 0, 6, integer=True)
        self._check_range("patience", 0, 100, integer=True)
        self._check_range("seed", 0, 2**31 - 1, integer=True)
        self._check_range("max_steps_per_epoch", 0, 1_000_000, integer=True)


@dataclass(frozen=True)
class GenerateConfig(_Config):
    """Sampling settings.  Same model + config + primer + seed -> the same notes."""

    length: int = C.DEFAULT_GENERATE_NOTES  # notes to generate
    seconds: float = 0.0  # if above 0, also stop once the music reaches this many seconds
    temperature: float = C.DEFAULT_TEMPERATURE
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    repetition_penalty: float = 1.0  # divide the chance of a pitch heard in the last `no_repeat_window` notes
    no_repeat_window: int = 8
    beam_width: int = 1  # 1 = sampling; above 1, beam search for the most likely continuation
    seed: int = 0
    tempo_bpm: float = 100.0
    program: int = C.DEFAULT_PROGRAM
    scale: str = "chromatic"  # lock pitches to a scale (see SCALES) on `key` (0 = C ... 11 = B)
    key: int = 0
    pitch_low: int = 0  # allowed pitch range
    pitch_high: int = 127
    density: float = 1.0  # above 1: more notes per beat; below 1: sparser
    max_chord: int = 0  # most notes starting together (0 = no limit)
    transpose: int = 0  # semitones to move the result (a key-normalised model writes in C major / A minor)

    def __post_init__(self) -> None:
        self._check_range("length", 1, C.MAX_GENERATE_NOTES, integer=True)
        self._check_range("seconds", 0, C.MAX_GENERATE_SECONDS)
        self._check_range("temperature", 0.05, 5.0)
        self._check_range("top_k", 0, 100_000, integer=True)
        if isinstance(self.top_p, bool) or not isinstance(self.top_p, (int, float)) or not 0.0 < self.top_p <= 1.0:
            raise BadConfig(f"top_p must be above 0 and at most 1, got {self.top_p!r}")
        self._check_range("repetition_penalty", 1.0, 10.0)
        self._check_range("no_repeat_window", 0, 64, integer=True)
        self._check_range("beam_width", 1, 16, integer=True)
        self._check_range("seed", 0, 2**31 - 1, integer=True)
        self._check_range("tempo_bpm", 20, 300)
        self._check_range("program", 0, 127, integer=True)
        if self.scale not in SCALES:
            raise BadConfig(f"scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        self._check_range("key", 0, 11, integer=True)
        self._check_range("pitch_low", 0, 127, integer=True)
        self._check_range("pitch_high", 0, 127, integer=True)
        if self.pitch_low > self.pitch_high:
            raise BadConfig(f"the lowest pitch ({self.pitch_low}) is above the highest ({self.pitch_high})")
        self._check_range("density", 0.1, 10.0)
        self._check_range("max_chord", 0, 16, integer=True)
        self._check_range("transpose", -12, 12, integer=True)

    def allowed_pitches(self) -> set[int]:
        """Pitches the scale lock and the range allow."""
        steps = SCALES[self.scale]
        return {p for p in range(self.pitch_low, self.pitch_high + 1) if (p - self.key) % 12 in steps}


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
class TranscribeConfig(_Config):
    """Basic Pitch settings, with Basic Pitch's own defaults."""

    onset_threshold: float = C.BP_ONSET_THRESHOLD
    frame_threshold: float = C.BP_FRAME_THRESHOLD
    minimum_note_length_ms: float = C.BP_MIN_NOTE_MS
    minimum_frequency: float | None = None
    maximum_frequency: float | None = None
    midi_tempo: float = C.BP_MIDI_TEMPO
    melodia_trick: bool = True
    multiple_pitch_bends: bool = False
    max_seconds: float = C.MAX_AUDIO_SECONDS

    def __post_init__(self) -> None:
        self._check_range("onset_threshold", 0.01, 0.99)
        self._check_range("frame_threshold", 0.01, 0.99)
        self._check_range("minimum_note_length_ms", 1, 5000)
        for name in ("minimum_frequency", "maximum_frequency"):
            if getattr(self, name) is not None:
                self._check_range(name, 1, 20_000)
        if (
            self.minimum_frequency is not None
            and self.maximum_frequency is not None
            and self.minimum_frequency >= self.maximum_frequency
        ):
            raise BadConfig("minimum_frequency must be below maximum_frequency")
        self._check_range("midi_tempo", C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM)
        self._check_range("max_seconds", 1, 4 * 60 * 60)


QUANTIZE_GRIDS = {"off": 0, "1/8": 2, "1/16": 4}  # grid name -> steps per quarter note


@dataclass(frozen=True)
class PostProcessConfig(_Config):
    """Clean-up applied to a transcription before it joins a dataset."""

    quantize: str = "off"  # "off", "1/8" or "1/16"
    monophonic: bool = False  # keep only the top melody line
    min_note_ms: float = 0.0  # drop notes shorter than this (0 = keep all)
    normalize_velocity: bool = False  # scale so the loudest note has velocity 100
    tempo_bpm: float | None = None  # grid tempo for quantizing; None = the tempo estimated from the audio

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZE_GRIDS:
            raise BadConfig(f"quantize must be one of {', '.join(QUANTIZE_GRIDS)}, got {self.quantize!r}")
        self._check_range("min_note_ms", 0, 5000)
        if self.tempo_bpm is not None:
            self._check_range("tempo_bpm", C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM)

    @property
    def is_identity(self) -> bool:
        return self == PostProcessConfig()
