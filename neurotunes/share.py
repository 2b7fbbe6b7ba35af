"""Share links: a generated take as URL query parameters, and back.

A link names a shipped model (and the first 12 hex digits of its content hash)
and every setting that differs from the defaults.  Opening it regenerates the
identical notes.  Everything read from a link is validated like any other
input: a tampered link gives a clear message, never an exception trace.

A harmonization's link (:func:`harmonization_params`) names the shipped model
that harmonized, the seed, the temperature, the tempo and key, and the melody
as the harmonizer sang it (:class:`GridMelody`, packed by :func:`encode_melody`);
opening it harmonizes the same melody into the same chorale.
"""

from __future__ import annotations

import base64
import binascii
import math
import numbers
import re
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import constants as C
from .bundle import ModelBundle, load_bundle
from .config import GenerateConfig, settings_of
from .constants import SHIPPED_MODELS, shipped_name
from .errors import BadConfig, BadModel, NeuroTunesError
from .generate import RECIPE_KEY
from .harmonize import MAX_MELODY_SECONDS, can_harmonize, marks_from, prepare_melody
from .keys import Key
from .score import Note, Score

HASH_CHARS = 12
MAX_PARAM_CHARS = 64
#: Query parameters that are not settings.
LINK_KEYS = ("model", "hash")


def share_params(model: str, model_hash: str, config: GenerateConfig) -> dict[str, str]:
    """Query parameters for a take made by a shipped model with ``config`` (no primer)."""
    if model not in SHIPPED_MODELS:
        raise BadConfig("only takes from a shipped model can be shared as a link (others need the model file)")
    defaults = type(config)().to_dict()
    params = {"model": model, "hash": model_hash[:HASH_CHARS]}
    params.update({k: str(v) for k, v in config.to_dict().items() if v != defaults[k]})
    return params


def parse_share_params(
    params: Mapping[str, str], *, config_type: type = GenerateConfig
) -> tuple[str, str, Any]:
    """``(model name, short hash, config)`` from query parameters.

    Every setting of ``config_type`` (a :class:`GenerateConfig` unless a test passes its own)
    is read and checked as its declaration says; nothing else is accepted.

    Raises
    ------
    BadConfig
        Unknown model or setting, a value of the wrong type or out of range.
    """
    model = shipped_name(params.get("model", ""))
    if model is None:
        raise BadConfig(f"the link names an unknown model {params.get('model', '')[:MAX_PARAM_CHARS]!r}")
    model_hash = params.get("hash", "")
    if len(model_hash) != HASH_CHARS or any(c not in "0123456789abcdef" for c in model_hash):
        raise BadConfig("the link's model hash is malformed")
    declared = {name: about for name, about, _ in settings_of(config_type)}
    values: dict[str, object] = {}
    for key, raw in params.items():
        if key in LINK_KEYS:
            continue
        if key not in declared:
            raise BadConfig(f"the link has an unknown setting {key[:MAX_PARAM_CHARS]!r}")
        if len(raw) > MAX_PARAM_CHARS:
            raise BadConfig(f"the link's value for {key} is too long")
        values[key] = declared[key].parse(key, raw)
    return model, model_hash, config_type.from_dict(values)


def take_from_link(
    params: Mapping[str, str], *, bundle_for: Callable[[str], ModelBundle] = load_bundle
) -> tuple[str, GenerateConfig]:
    """``(shipped model name, config)`` of the take a share link describes, checked against the model here.

    ``bundle_for(name)`` gives the shipped bundle (the app passes its cached loader).

    Raises
    ------
    BadConfig
        A malformed or tampered link (see :func:`parse_share_params`).
    BadModel
        The link was made with another version of the model: its notes cannot be reproduced.
    """
    model, model_hash, config = parse_share_params(params)
    return model_by_hash(model, model_hash, bundle_for), config


def model_by_hash(model: str, model_hash: str, bundle_for: Callable[[str], ModelBundle] = load_bundle) -> str:
    """The shipped model a link made it with: ``model`` when its hash starts with ``model_hash``, else the
    shipped model that has that hash under another name (a link made before "default" moved to a new model).

    Raises
    ------
    BadModel
        No shipped model here has the hash: the link was made with another version of the model.
    """
    if bundle_for(model).hash.startswith(model_hash):
        return model
    moved = next((name for name in SHIPPED_MODELS if bundle_for(name).hash.startswith(model_hash)), None)
    if moved is None:
        raise BadModel("the link was made with another version of this model, so it cannot be reproduced here")
    return moved


@dataclass(frozen=True)
class Recipe:
    """What regenerates a piece NeuroTunes made: the model, the settings (seed included) and the primer."""

    bundle: ModelBundle
    config: GenerateConfig
    primer: Score | None


def recipe_from_score(
    score: Score,
    *,
    model: str | None = None,
    source: str = "the piece",
    bundle_for: Callable[[str], ModelBundle] = load_bundle,
) -> Recipe:
    """The recipe a generated piece carries in its metadata, with the model it names, checked.

    Parameters
    ----------
    model
        A bundle folder, .zip or shipped name to use; ``None`` finds the recipe's model among the
        shipped ones by its content hash.
    source
        How messages name the piece (its file name).

    Raises
    ------
    NeuroTunesError
        No recipe, a damaged one, a model that is not shipped (and none given) or not the one the
        recipe was made with.
    """
    recipe = score.metadata.get(RECIPE_KEY)
    if not isinstance(recipe, Mapping) or "settings" not in recipe:
        raise NeuroTunesError(f"{source} carries no NeuroTunes recipe (was it generated by NeuroTunes?)")
    try:
        config = GenerateConfig.from_dict(recipe["settings"])
        primer = Score.from_dict(recipe["primer"]) if recipe.get("primer") else None
    except NeuroTunesError as exc:
        raise NeuroTunesError(f"{source} carries a damaged recipe: {exc}") from None
    model_hash = recipe.get("model_hash")
    if not isinstance(model_hash, str):
        raise NeuroTunesError(f"{source} carries a damaged recipe: it names no model hash")
    if model is None:
        model = next((name for name in SHIPPED_MODELS if bundle_for(name).hash == model_hash), None)
        if model is None:
            raise NeuroTunesError(f"the recipe's model ({recipe.get('model_name')}) is not shipped; "
                                  "give its bundle (--model)")
    bundle = bundle_for(model)
    if bundle.hash != model_hash:
        raise NeuroTunesError(f"{source} was made with another model ({recipe.get('model_name')}, "
                              f"{model_hash[:HASH_CHARS]}); this one is {bundle.short_hash}")
    return Recipe(bundle, config, primer)


# --- harmonization links -----------------------------------------------------------------------------------------
#: The query parameter that makes a link a harmonization's (it names the model), and every part such a link has.
HARMONIZE_KEY = "harmonize"
HARMONIZATION_KEYS = (HARMONIZE_KEY, "hash", "seed", "temperature", "tempo", "key", "melody")
#: The melody's packing (its first byte): bump it when the layout changes; a link of another format is refused.
#: 2 added the meter, the pickup and the fermatas; links of format 1 (before them) still open, in 4/4.
MELODY_FORMAT = 2
_MELODY_FORMATS = (1, 2)
_DENOMINATORS = (1, 2, 4, 8, 16, 32)
#: The most notes a link's melody holds, and the most characters it takes in the address (besides the
#: harmonizer's own cap, MAX_MELODY_SECONDS, which a link's melody may not exceed either).
MAX_LINK_NOTES = 2000
MAX_MELODY_CHARS = 6000
_VARINT_BYTES = 3  # each number in a packed melody is below 2**21: more steps than any melody a link holds
_MAX_RAW_BYTES = 1 + _VARINT_BYTES * (5 + 4 * MAX_LINK_NOTES)  # grid, meter, pickup, fermatas; notes
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_SEED = re.compile(r"[0-9]{1,10}")
_KEY = re.compile(r"(1[01]|[0-9])(m?)")
_TEMPERATURE_RANGE = (0.05, 5.0)  # as harmonize() accepts


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


@dataclass(frozen=True)
class GridMelody:
    """A single line on a model's grid, as the harmonizer sings it (:func:`neurotunes.harmonize.prepare_melody`).

    ``notes`` are ``(onset, duration, pitch)`` in grid steps (``steps_per_quarter`` to a quarter note), in time
    order, none starting before the one before it ends; onsets from 0, durations from 1 step, MIDI pitches 0-127.
    ``time_signature``, ``pickup`` (grid steps of the first bar before the melody starts) and ``fermatas`` (grid
    steps where a note under a fermata starts, in order) are what the melody's notation said, as the
    harmonizer hears them (a model that knows the bar and the phrase ends does).

    Raises
    ------
    BadConfig
        Anything else (a negative time, a pitch out of range, overlapping notes, no notes, a bad grid).
    """

    notes: tuple[tuple[int, int, int], ...]
    steps_per_quarter: int
    time_signature: tuple[int, int] = C.DEFAULT_TIME_SIGNATURE
    pickup: int = 0
    fermatas: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        spq = self.steps_per_quarter
        if not _whole(spq) or not 1 <= spq <= 24:
            raise BadConfig(f"a melody's grid is 1-24 steps to a quarter note, not {spq!r}")
        meter = self.time_signature
        if (not isinstance(meter, (tuple, list)) or len(meter) != 2 or not all(_whole(v) for v in meter)
                or not 1 <= meter[0] <= 64 or meter[1] not in _DENOMINATORS):
            raise BadConfig(f"a melody's time signature is (1-64, one of {_DENOMINATORS}), not {meter!r}")
        if not _whole(self.pickup) or not 0 <= self.pickup < 1 << (7 * _VARINT_BYTES):
            raise BadConfig(f"a melody's pickup is a whole number of steps from 0, not {self.pickup!r}")
        if (not isinstance(self.fermatas, (tuple, list)) or not all(_whole(v) and v >= 0 for v in self.fermatas)
                or list(self.fermatas) != sorted(set(self.fermatas))):
            raise BadConfig("a melody's fermatas are steps from 0, each once, in order")
        object.__setattr__(self, "time_signature", (int(meter[0]), int(meter[1])))
        object.__setattr__(self, "fermatas", tuple(int(v) for v in self.fermatas))
        checked, end = [], 0
        for i, note in enumerate(self.notes, start=1):
            if not isinstance(note, (tuple, list)) or len(note) != 3 or not all(_whole(v) for v in note):
                raise BadConfig(f"the melody's note {i} is not (onset, duration, pitch) in whole steps")
            onset, duration, pitch = (int(v) for v in note)
            if onset < 0:
                raise BadConfig(f"the melody's note {i} starts at a negative time ({onset})")
            if duration < 1:
                raise BadConfig(f"the melody's note {i} lasts {duration} steps (at least 1)")
            if not 0 <= pitch <= 127:
                raise BadConfig(f"the melody's note {i} has pitch {pitch}, outside MIDI's 0-127")
            if onset < end:
                raise BadConfig(f"the melody's note {i} starts before the note before it ends (a melody is one line)")
            checked.append((onset, duration, pitch))
            end = onset + duration
        if not checked:
            raise BadConfig("the melody has no notes")
        if self.fermatas and self.fermatas[-1] >= end:
            raise BadConfig(f"the melody's fermata at step {self.fermatas[-1]} is after its last note ends ({end})")
        object.__setattr__(self, "notes", tuple(checked))
        object.__setattr__(self, "steps_per_quarter", int(spq))

    @property
    def steps(self) -> int:
        """Where the last note ends, in grid steps."""
        onset, duration, _ = self.notes[-1]
        return onset + duration

    def to_score(self, tempo_bpm: float, key: Key | None = None) -> Score:
        """The melody as a score at ``tempo_bpm`` (times exactly as the harmonizer's grid puts them)."""
        spq = self.steps_per_quarter
        step = Score(tempo_bpm=tempo_bpm).seconds_per_beat / spq
        notes = tuple(Note(start=onset * step, end=(onset + duration) * step, pitch=pitch)
                      for onset, duration, pitch in self.notes)
        marks = {C.PICKUP_KEY: self.pickup / spq} if self.pickup else {}
        if self.fermatas:
            marks[C.FERMATAS_KEY] = [f / spq for f in self.fermatas]
        return Score(notes=notes, tempo_bpm=tempo_bpm, key=key, time_signature=self.time_signature, metadata=marks)

    @classmethod
    def from_score(cls, score: Score, steps_per_quarter: int) -> "GridMelody":
        """A single line already on the grid (the harmonizer's sung line) as grid steps from its first note."""
        step = score.seconds_per_beat / steps_per_quarter
        pitched = sorted((n for n in score.notes if not n.is_drum), key=lambda n: (n.start, n.pitch))
        first = pitched[0].start if pitched else 0.0
        notes = []
        for n in pitched:
            onset = int(round((n.start - first) / step))
            notes.append((onset, max(int(round((n.end - first) / step)) - onset, 1), n.pitch))
        marks = marks_from(score, first)  # the marks count from the score's start, the melody from its note
        pickup = int(round(float(marks.get(C.PICKUP_KEY, 0.0) or 0.0) * steps_per_quarter))
        fermatas = sorted({int(round(b * steps_per_quarter)) for b in marks.get(C.FERMATAS_KEY, ())})
        end = max((onset + duration for onset, duration, _ in notes), default=0)
        return cls(tuple(notes), steps_per_quarter, score.time_signature, pickup,
                   tuple(f for f in fermatas if f < end))

    @classmethod
    def of_melody(cls, melody: Score, steps_per_quarter: int) -> "GridMelody":
        """What the harmonizer sings of ``melody`` on a grid of ``steps_per_quarter`` (its top line, in the
        soprano's range, gaps held, at most MAX_MELODY_SECONDS): harmonizing it gives the same chorale."""
        _, sung, _ = prepare_melody(melody, steps_per_quarter)
        return cls.from_score(sung, steps_per_quarter)


def _varint(out: bytearray, value: int) -> None:
    if not 0 <= value < 1 << (7 * _VARINT_BYTES):
        raise BadConfig("the melody is too long to share as a link")
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def encode_melody(melody: GridMelody) -> str:
    """``melody`` packed for an address: URL-safe base64 (no padding) of the deflated bytes ``format, grid,
    meter (numerator, denominator), pickup, the number of fermatas and each one's gap from the one before, then
    (gap before the note, duration, pitch) per note``, each number a little-endian base-128 varint."""
    raw = bytearray([MELODY_FORMAT])
    for value in (melody.steps_per_quarter, *melody.time_signature, melody.pickup, len(melody.fermatas)):
        _varint(raw, value)
    before = 0
    for step in melody.fermatas:
        _varint(raw, step - before)
        before = step
    end = 0
    for onset, duration, pitch in melody.notes:
        for value in (onset - end, duration, pitch):
            _varint(raw, value)
        end = onset + duration
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(bytes(raw)) + packer.flush()
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_melody(text: str) -> GridMelody:
    """The melody :func:`encode_melody` packed, checked.

    Raises
    ------
    BadConfig
        Not a packed melody (damaged, tampered, another format), over :data:`MAX_MELODY_CHARS` characters or
        :data:`MAX_LINK_NOTES` notes, or a melody :class:`GridMelody` refuses.
    """
    if not isinstance(text, str) or not text:
        raise BadConfig("the link has no melody")
    if len(text) > MAX_MELODY_CHARS:
        raise BadConfig(f"the link's melody is too long ({len(text)} characters; a link holds at most "
                        f"{MAX_MELODY_CHARS})")
    damaged = BadConfig("the link's melody is damaged (was the link cut short or changed?)")
    if not _BASE64URL.fullmatch(text):
        raise BadConfig("the link's melody has characters a packed melody never has")
    try:
        packed = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        unpacker = zlib.decompressobj(-15)
        raw = unpacker.decompress(packed, _MAX_RAW_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise damaged from None
    if len(raw) > _MAX_RAW_BYTES or unpacker.unconsumed_tail:
        raise BadConfig(f"the link's melody has more than {MAX_LINK_NOTES} notes")
    if not unpacker.eof or unpacker.unused_data or not raw:
        raise damaged
    if raw[0] not in _MELODY_FORMATS:
        raise BadConfig(f"the link's melody is in a format this version does not read ({raw[0]})")
    pos = 1

    def number() -> int:
        nonlocal pos
        value = 0
        for shift in range(0, 7 * _VARINT_BYTES, 7):
            if pos >= len(raw):
                raise damaged
            byte = raw[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
        raise damaged

    spq = number()
    meter, pickup, fermatas = C.DEFAULT_TIME_SIGNATURE, 0, []
    if raw[0] >= 2:
        meter, pickup, count = (number(), number()), number(), number()
        if count > MAX_LINK_NOTES:
            raise damaged
        for _ in range(count):
            fermatas.append((fermatas[-1] if fermatas else 0) + number())
    notes, end = [], 0
    while pos < len(raw):
        if len(notes) == MAX_LINK_NOTES:
            raise BadConfig(f"the link's melody has more than {MAX_LINK_NOTES} notes")
        gap, duration, pitch = number(), number(), number()
        notes.append((end + gap, duration, pitch))
        end += gap + duration
    return GridMelody(tuple(notes), spq, meter, pickup, tuple(fermatas))


@dataclass(frozen=True)
class HarmonizationLink:
    """What makes a harmonization: the model (shipped name, short hash), the melody as the harmonizer sings it,
    the seed and temperature, and the tempo and key the melody is heard in.  The same link, the same chorale."""

    model: str
    model_hash: str
    melody: GridMelody
    seed: int
    temperature: float
    tempo_bpm: float
    key: Key | None = None

    def melody_score(self) -> Score:
        """The melody to harmonize (its key set, so the harmonizer moves it as it moved the one shared)."""
        return self.melody.to_score(self.tempo_bpm, key=self.key)


def _check_link(link: HarmonizationLink) -> HarmonizationLink:
    """A link's limits: notes, length (the harmonizer's MAX_MELODY_SECONDS), seed, temperature, tempo."""
    count = len(link.melody.notes)
    if count > MAX_LINK_NOTES:
        raise BadConfig(f"the melody has {count} notes: a link holds at most {MAX_LINK_NOTES}")
    if not _whole(link.seed) or not 0 <= link.seed <= C.MAX_SEED:
        raise BadConfig(f"the link's seed must be a whole number 0-{C.MAX_SEED}")
    low, high = _TEMPERATURE_RANGE
    if not (math.isfinite(link.temperature) and low <= link.temperature <= high):
        raise BadConfig(f"the link's temperature must be {low:g}-{high:g}")
    if not (math.isfinite(link.tempo_bpm) and C.MIN_TEMPO_BPM <= link.tempo_bpm <= C.MAX_TEMPO_BPM):
        raise BadConfig(f"the link's tempo must be {C.MIN_TEMPO_BPM:g}-{C.MAX_TEMPO_BPM:g} BPM")
    step = 60.0 / link.tempo_bpm / link.melody.steps_per_quarter
    if link.melody.steps > int(MAX_MELODY_SECONDS / step):
        raise BadConfig(f"the melody lasts {link.melody.steps * step:.0f} s: a link holds at most "
                        f"{MAX_MELODY_SECONDS:.0f} s")
    return link


def _key_text(key: Key) -> str:
    return f"{key.tonic}{'m' if key.mode == 'minor' else ''}"


def harmonization_params(model_name: str, model_hash: str, melody: GridMelody, seed: int, temperature: float,
                         tempo: float, *, key: Key | None = None) -> dict[str, str]:
    """Query parameters for a harmonization of ``melody`` (as the harmonizer sang it: :meth:`GridMelody.of_melody`)
    by a shipped model::

        harmonize=chorale&hash=<12 hex>&seed=3&temperature=0.8&tempo=120.0&key=7m&melody=<encode_melody>

    (``key``: the tonic's pitch class, ``m`` for minor; absent where the chorale has none.)

    Raises
    ------
    BadConfig
        The model is not shipped, or the melody is over a link's limits (notes, seconds, characters).
    """
    shipped = shipped_name(model_name)
    if shipped is None:
        raise BadConfig("only harmonizations by a shipped model can be shared as a link (others need the model "
                        "file); download the MIDI instead")
    link = _check_link(HarmonizationLink(shipped, model_hash[:HASH_CHARS], melody, seed, float(temperature),
                                         float(tempo), key))
    packed = encode_melody(melody)
    if len(packed) > MAX_MELODY_CHARS:
        raise BadConfig("the melody is too long to share as a link; download the MIDI instead")
    params = {HARMONIZE_KEY: link.model, "hash": link.model_hash, "seed": str(int(link.seed)),
              "temperature": repr(link.temperature), "tempo": repr(link.tempo_bpm)}
    if key is not None:
        params["key"] = _key_text(key)
    params["melody"] = packed
    return params


def is_harmonization_link(params: Mapping[str, str]) -> bool:
    """Whether query parameters are a harmonization's link (rather than a take's, or none)."""
    return HARMONIZE_KEY in params


def _number(params: Mapping[str, str], name: str) -> float:
    raw = params.get(name)
    if raw is None:
        raise BadConfig(f"the link has no {name}")
    try:
        value = float(raw)
    except ValueError:
        raise BadConfig(f"the link's {name} is not a number") from None
    if not math.isfinite(value):
        raise BadConfig(f"the link's {name} is not a number")
    return value


def parse_harmonization_params(params: Mapping[str, str]) -> HarmonizationLink:
    """The harmonization a link's query parameters describe (see :func:`harmonization_params`), checked.

    Raises
    ------
    BadConfig
        An unknown model or part, a part missing, malformed or out of range, a damaged or oversized melody.
    """
    model = shipped_name(params.get(HARMONIZE_KEY, ""))
    if model is None:
        raise BadConfig(f"the link names an unknown model {params.get(HARMONIZE_KEY, '')[:MAX_PARAM_CHARS]!r}")
    for name, raw in params.items():
        if name not in HARMONIZATION_KEYS:
            raise BadConfig(f"the link has an unknown part {name[:MAX_PARAM_CHARS]!r}")
        if name != "melody" and len(raw) > MAX_PARAM_CHARS:
            raise BadConfig(f"the link's value for {name} is too long")
    model_hash = params.get("hash", "")
    if len(model_hash) != HASH_CHARS or any(c not in "0123456789abcdef" for c in model_hash):
        raise BadConfig("the link's model hash is malformed")
    seed = params.get("seed", "")
    if not _SEED.fullmatch(seed) or int(seed) > C.MAX_SEED:
        raise BadConfig(f"the link's seed must be a whole number 0-{C.MAX_SEED}")
    temperature, tempo = _number(params, "temperature"), _number(params, "tempo")
    key = None
    if "key" in params:
        found = _KEY.fullmatch(params["key"])
        if not found:
            raise BadConfig("the link's key is malformed (a pitch class 0-11, 'm' after it for minor)")
        key = Key(int(found.group(1)), "minor" if found.group(2) else "major")
    melody = decode_melody(params.get("melody", ""))
    return _check_link(HarmonizationLink(model, model_hash, melody, int(seed), temperature, tempo, key))


def harmonization_from_link(
    params: Mapping[str, str], *, bundle_for: Callable[[str], ModelBundle] = load_bundle
) -> HarmonizationLink:
    """The harmonization a link describes, checked against the model here (``bundle_for`` gives a shipped bundle).

    Raises
    ------
    BadConfig
        A malformed or tampered link (:func:`parse_harmonization_params`), a model that cannot harmonize, or a
        melody on another grid than the model's.
    BadModel
        The link was made with another version of the model: its chorale cannot be reproduced.
    """
    link = parse_harmonization_params(params)
    bundle = bundle_for(link.model)
    if not can_harmonize(bundle):
        raise BadConfig(f"the link names {link.model}, a model that cannot harmonize")
    if bundle.hash[: len(link.model_hash)] != link.model_hash:
        raise BadModel("the link was made with another version of this model, so it cannot be reproduced here")
    if link.melody.steps_per_quarter != bundle.encoding.steps_per_quarter:
        raise BadConfig(f"the link's melody is on a grid of {link.melody.steps_per_quarter} steps to a quarter "
                        f"note; the model {SHIPPED_MODELS[link.model][0]} writes "
                        f"{bundle.encoding.steps_per_quarter}")
    return link
