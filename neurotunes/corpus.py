"""Corpora that ship with music21 -> Scores (music21 lives here only).

Parsing is slow (tenths of a second per piece), so callers can pass a progress
callback and a limit; parsed pieces are cached per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection

from . import constants as C
from .errors import DatasetError, NeuroTunesError
from .keys import MODES, Key, piece_key
from .score import Note, Score

log = logging.getLogger(__name__)

#: Bump when stream_to_score changes, so cached pieces are parsed again.
CACHE_VERSION = 1
#: Default tempo for corpus pieces without a metronome mark (chorales are sung slowly).
CORPUS_TEMPO_BPM = 90.0


@dataclass(frozen=True)
class CorpusInfo:
    key: str
    title: str
    description: str


CORPORA: dict[str, CorpusInfo] = {
    "bach": CorpusInfo("bach", "Bach chorales", "J. S. Bach's four-part chorales (music21's bach corpus)"),
    "essen": CorpusInfo("essen", "Essen folk songs", "European folk melodies (music21's essenFolksong ABC files)"),
    "ryansMammoth": CorpusInfo("ryansMammoth", "Ryan's Mammoth Collection", "Fiddle tunes (ABC)"),
}


def _m21():
    import music21

    return music21


@functools.lru_cache(maxsize=None)
def corpus_paths(key: str) -> tuple[str, ...]:
    """Paths of the pieces in one of music21's corpora, in a stable order."""
    music21 = _m21()
    if key == "bach":
        # Only the four-part chorales (bwv*.mxl), not the other Bach works in the folder.
        paths = [p for p in music21.corpus.getComposer("bach") if "bwv" in str(p).lower()]
    elif key in ("essen", "essenFolksong"):
        paths = list(music21.corpus.getComposer("essenFolksong"))
    elif key == "ryansMammoth":
        paths = list(music21.corpus.getComposer("ryansMammoth"))
    else:
        paths = list(music21.corpus.getComposer(key))
    if not paths:
        raise DatasetError(f"music21 has no corpus called {key!r}; try one of: {', '.join(CORPORA)}")
    return tuple(sorted(str(p) for p in paths))


def stream_to_score(stream, *, source: str, tempo_bpm: float | None = None) -> Score:
    """Convert a music21 stream (score, part or opus member) to a Score."""
    music21 = _m21()
    flat = stream.stripTies().flatten()
    marks = list(flat.getElementsByClass(music21.tempo.MetronomeMark))
    bpm = tempo_bpm or (marks[0].getQuarterBPM() if marks and marks[0].number else None) or CORPUS_TEMPO_BPM
    bpm = min(max(float(bpm), C.MIN_TEMPO_BPM), C.MAX_TEMPO_BPM)
    spb = 60.0 / bpm
    notes = []
    for el in flat.notes:
        start = float(el.offset) * spb
        dur = float(el.quarterLength) * spb
        if dur <= 0:  # grace notes have no duration
            continue
        velocity = el.volume.velocity if el.volume is not None and el.volume.velocity else C.DEFAULT_VELOCITY
        for p in el.pitches:
            if 0 <= p.midi <= 127:
                notes.append(Note(pitch=int(p.midi), start=start, end=start + dur, velocity=int(velocity)))
    ts = (4, 4)
    sigs = list(flat.getElementsByClass(music21.meter.TimeSignature))
    if sigs and sigs[0].denominator in (1, 2, 4, 8, 16, 32):
        ts = (int(sigs[0].numerator), int(sigs[0].denominator))
    key = None
    keys = list(flat.getElementsByClass(music21.key.KeySignature))
    if keys:
        k = keys[0].asKey() if not isinstance(keys[0], music21.key.Key) else keys[0]
        # A modal key (an ABC tune in D dorian) is no major/minor key: left unknown, so it is estimated.
        key = Key(k.tonic.pitchClass, k.mode) if k.mode in MODES else None
    return Score(notes=tuple(notes), tempo_bpm=bpm, time_signature=ts, key=key, metadata={"source": source})


def _cache_file(path: str) -> Path:
    music21 = _m21()
    stat = os.stat(path)
    key = hashlib.sha1(f"{CACHE_VERSION}|{music21.VERSION_STR}|{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return C.data_dir() / "cache" / "corpus" / f"{key.hexdigest()}.json"


#: Notation formats music21 reads (file suffix -> description).
NOTATION_SUFFIXES = {".xml": "MusicXML", ".musicxml": "MusicXML", ".mxl": "compressed MusicXML", ".abc": "ABC"}


def notation_to_scores(data: bytes, *, name: str) -> list[Score]:
    """Parse MusicXML / ABC bytes into Scores (an ABC file may hold many tunes).

    Raises
    ------
    DatasetError
        Empty or unparsable file, or no notes in it; the message names the file.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in NOTATION_SUFFIXES:
        raise DatasetError(f"{name}: not a notation file ({', '.join(NOTATION_SUFFIXES)})")
    if not data.strip():
        raise DatasetError(f"{name} is empty")
    # music21 picks its parser by file suffix, and compressed MusicXML must be a real file.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        scores = [s.with_metadata(source=name if len(parsed) == 1 else f"{name}#{i + 1}")
                  for parsed in [_parse_corpus_file(str(path), name)] for i, s in enumerate(parsed)]
    scores = [s for s in scores if len(s)]
    if not scores:
        raise DatasetError(f"{name} has no notes")
    return scores


@functools.lru_cache(maxsize=4096)
def load_corpus_file(path: str) -> tuple[Score, ...]:
    """Parse one corpus file into Scores (an ABC collection holds many tunes).

    Results are cached per process and on disk as plain JSON (parsing costs
    tenths of a second per piece; reading the cache, milliseconds).
    """
    cache = _cache_file(path)
    try:
        return tuple(Score.from_dict(d) for d in json.loads(cache.read_text()))
    except (OSError, ValueError, NeuroTunesError):
        pass  # no cache yet, or an unreadable one: parse again
    scores = _parse_corpus_file(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([s.to_dict() for s in scores]))
        tmp.replace(cache)
    except OSError as exc:
        log.debug("cannot write corpus cache %s: %s", cache, exc)
    return scores


def _parse_corpus_file(path: str, display_name: str | None = None) -> tuple[Score, ...]:
    music21 = _m21()
    name = display_name or path.rsplit("/", 1)[-1]
    try:
        # forceSource / storePickle: music21 would otherwise keep a pickle of every parsed file in its temp
        # folder (/tmp/music21) forever, one per upload, and load pickles it finds there; our own JSON
        # cache (load_corpus_file) already makes re-parsing corpus files cheap.
        parsed = music21.converter.parse(path, forceSource=True, storePickle=False)
        if isinstance(parsed, music21.stream.Opus):
            return tuple(
                stream_to_score(s, source=f"music21:{name}#{i + 1}") for i, s in enumerate(parsed.scores)
            )
        return (stream_to_score(parsed, source=f"music21:{name}"),)
    except NeuroTunesError as exc:
        raise DatasetError(f"{name}: {exc}") from None
    except Exception as exc:  # music21 raises many kinds on odd files
        # Its messages may quote the path it was given (for an upload, a temp file): name the file instead.
        raise DatasetError(f"music21 could not parse {name}: {str(exc).replace(path, name)}") from None


def load_corpus(
    key: str,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    errors: list[str] | None = None,
    exclude: Collection[str] = (),
) -> list[Score]:
    """Parse up to ``limit`` pieces of a corpus; files that fail are skipped.

    Parameters
    ----------
    key
        ``"bach"``, ``"essen"``, ``"ryansMammoth"`` or any music21 composer folder.
    limit
        Parse at most this many pieces (the first ones, in a stable order).
    progress
        Called with ``(done, total)`` after each piece.
    errors
        If given, one message per skipped piece is appended.
    exclude
        Sources (``score.metadata["source"]``) to leave out, e.g. a reference set's held-out pieces
        (:func:`held_out_sources`); they do not count towards ``limit``.
    """
    paths = corpus_paths(key)
    scores: list[Score] = []
    for i, path in enumerate(paths):
        try:
            for score in load_corpus_file(path):
                if score.metadata.get("source") in exclude:
                    continue
                if len(score):
                    scores.append(score)
                elif errors is not None:
                    errors.append(f"{score.metadata['source']}: no notes")
        except NeuroTunesError as exc:
            log.warning("skipping %s: %s", path, exc)
            if errors is not None:
                errors.append(str(exc))
        if progress:
            progress(i + 1, len(paths))
        if limit and len(scores) >= limit:
            scores = scores[:limit]
            break
    if not scores:
        raise DatasetError(f"no usable pieces in corpus {key!r}")
    return scores


#: Which pieces of each corpus the shipped models never saw: the Evaluate page's reference sets, written by
#: scripts/held_out.py from the reference split (neurotunes.dataset.REFERENCE_SPLIT_SEED and _FRACTION).
HELD_OUT_FILE = C.ASSETS_DIR / "held_out.json"


def held_out_sources(key: str) -> frozenset[str]:
    """The sources of corpus ``key``'s held-out pieces (empty for a corpus without a reference set)."""
    try:
        return frozenset(json.loads(HELD_OUT_FILE.read_text()).get(key, ()))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read the list of held-out pieces ({HELD_OUT_FILE.name}): {exc}") from None


#: Pitches from here up go on the treble staff, below it on the bass staff.
TREBLE_SPLIT = 60
#: Notation snaps to this grid (sixteenths) so the engraving stays readable.
NOTATION_STEPS_PER_QUARTER = 4


def _notation_key(score: Score):
    """The piece's key (from its file, or estimated) as a music21 Key; None for a piece without one."""
    found = piece_key(score)
    return _m21().key.Key(found.music21_name) if found else None


def _spell_in_key(staff, key) -> None:
    """Spell every pitch as the key would (B-flat in F major, A-sharp in B major) and leave it to music21's
    MusicXML writer to show only the accidentals a reader needs against the key signature."""
    from music21 import scale

    scale_names = {p.name for p in key.pitches}
    if key.mode == "minor":  # the raised sixth and seventh are at home too (C-sharp in D minor, not D-flat)
        scale_names |= {p.name for p in scale.MelodicMinorScale(key.tonic).getPitches()}
    for chord_or_note in staff.recurse().notes:
        for pitch in chord_or_note.pitches:
            if pitch.name not in scale_names:
                for other in (pitch.getEnharmonic(), pitch.getLowerEnharmonic(), pitch.getHigherEnharmonic()):
                    if other is not None and other.name in scale_names:
                        pitch.name, pitch.octave = other.name, other.octave
                        break
                else:  # a chromatic note: sharps in sharp keys, flats in flat keys
                    wanted = "flat" if key.sharps < 0 else "sharp"
                    if pitch.accidental is not None and pitch.accidental.name not in (wanted, "natural"):
                        other = pitch.getHigherEnharmonic() if wanted == "flat" else pitch.getLowerEnharmonic()
                        pitch.name, pitch.octave = other.name, other.octave
            if pitch.accidental is not None and pitch.accidental.alter == 0:
                pitch.accidental = None  # an explicit natural object would be printed in every later bar
            elif pitch.accidental is not None:
                pitch.accidental.displayStatus = None  # the MusicXML writer decides, against the key signature


def score_to_musicxml(score: Score, *, title: str = "NeuroTunes") -> bytes:
    """A piano-style two-staff MusicXML file (treble from middle C up, bass below), on a 1/16 grid.

    Raises
    ------
    DatasetError
        The piece has no pitched notes.
    """
    music21 = _m21()
    pitched = score.without_drums().quantized(NOTATION_STEPS_PER_QUARTER)
    if not len(pitched):
        raise DatasetError("nothing to engrave: the piece has no pitched notes")
    spb = pitched.seconds_per_beat
    key = _notation_key(score)
    parts = []
    for name, keep, clef in (("upper", lambda p: p >= TREBLE_SPLIT, music21.clef.TrebleClef()),
                             ("lower", lambda p: p < TREBLE_SPLIT, music21.clef.BassClef())):
        part = music21.stream.PartStaff(id=name)
        part.insert(0, clef)
        part.insert(0, music21.meter.TimeSignature(f"{score.time_signature[0]}/{score.time_signature[1]}"))
        if key is not None:
            part.insert(0, music21.key.KeySignature(key.sharps))
        for n in pitched.notes:
            if keep(n.pitch):
                m21_note = music21.note.Note(n.pitch, quarterLength=round(n.duration / spb * 4) / 4)
                m21_note.volume.velocity = n.velocity
                part.insert(round(n.start / spb * 4) / 4, m21_note)
        if not part.notes:  # an empty staff still needs a whole-bar rest to engrave
            part.insert(0, music21.note.Rest(quarterLength=score.time_signature[0] * 4 / score.time_signature[1]))
        # Simultaneous notes become chords; overlaps are split and tied, as a copyist would.
        staff = part.chordify() if part.notes else part
        if key is not None and staff.notes:
            _spell_in_key(staff, key)
        parts.append(staff)
    piece = music21.stream.Score()
    piece.insert(0, music21.metadata.Metadata(title=title))
    piece.insert(0, music21.tempo.MetronomeMark(number=round(score.tempo_bpm)))
    for part in parts:
        piece.insert(0, part)
    piece.insert(0, music21.layout.StaffGroup(parts, symbol="brace"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "score.musicxml"
        piece.write("musicxml", fp=str(path))
        return path.read_bytes()
