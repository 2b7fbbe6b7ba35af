"""Corpora that ship with music21 -> Scores (music21 lives here only).

Parsing is slow (tenths of a second per piece), so callers can pass a progress
callback and a limit; parsed pieces are cached per process.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Sequence

from . import constants as C
from .errors import DatasetError, NeuroTunesError
from .keys import MODES, Key, piece_key
from .score import Note, Score

log = logging.getLogger(__name__)

#: Bump when stream_to_score changes, so cached pieces are parsed again.
CACHE_VERSION = 3
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
    return Score(notes=tuple(notes), tempo_bpm=bpm, time_signature=ts, key=key,
                 metadata={"source": source, **_phrase_marks(stream, flat)})


def _phrase_marks(stream, flat) -> dict[str, Any]:
    """Where the bar lines and the phrase ends fall (:data:`~neurotunes.constants.PICKUP_KEY`,
    :data:`~neurotunes.constants.FERMATAS_KEY`); either is left out when the notation does not say."""
    music21 = _m21()
    marks: dict[str, Any] = {}
    parts = list(stream.getElementsByClass(music21.stream.Part)) if hasattr(stream, "getElementsByClass") else []
    measures = list((parts[0] if parts else stream).getElementsByClass(music21.stream.Measure))
    if measures:
        marks[C.PICKUP_KEY] = float(measures[0].paddingLeft or 0.0)
    # A fermata over tied notes is printed on the last of them: it marks the note the ties make.
    marked = [(float(el.offset), {p.midi for p in el.pitches}) for el in stream.flatten().notes
              if any(isinstance(e, music21.expressions.Fermata) for e in el.expressions)]
    fermatas = sorted({float(el.offset) for el in flat.notes for at, pitches in marked
                       if float(el.offset) <= at < float(el.offset) + float(el.quarterLength)
                       and pitches & {p.midi for p in el.pitches}})
    if fermatas:
        marks[C.FERMATAS_KEY] = fermatas
    return marks


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
    return tuple(iter_corpus_file(path))


#: The start of a tune in an ABC collection: its reference-number field at the start of a line.
_ABC_REFERENCE = re.compile(r"^X:[ \t]*(\S*)", re.MULTILINE)
#: Corpus files read completely in this process, by path.
_read_files: dict[str, tuple[Score, ...]] = {}


def iter_corpus_file(path: str) -> Iterator[Score]:
    """The pieces of one corpus file, one at a time, as :func:`load_corpus_file` reads them.

    An ABC collection (the Essen folk songs: 100 to 700 tunes a file) is read tune by tune, so a caller can
    count pieces as they come and stop once it has enough: music21 reads a whole collection before handing
    over its first tune (10 s for one Essen file).  A collection left part-read keeps its tunes on disk, and
    the next read goes on from there.  Sources and order are the ones music21 gives the whole file.
    """
    if path in _read_files:
        yield from _read_files[path]
        return
    cache = _cache_file(path)
    cached = _read_cache(cache)
    if isinstance(cached, list):
        _read_files[path] = tuple(Score.from_dict(d) for d in cached)
        yield from _read_files[path]
        return
    tunes = _abc_tunes(path)
    if tunes is None:  # one piece (or an odd collection): music21 reads the file as a whole
        scores = _parse_corpus_file(path)
        _write_cache(cache, [s.to_dict() for s in scores])
        _read_files[path] = scores
        yield from scores
        return
    part = cache.with_suffix(".part.json")
    resumed = _read_cache(part)
    done, dicts = (resumed["tunes"], resumed["scores"]) if isinstance(resumed, dict) else (0, [])
    scores = [Score.from_dict(d) for d in dicts]
    started, complete = done, False
    name = path.rsplit("/", 1)[-1]
    try:
        yield from list(scores)
        for tune in tunes[done:]:
            score = _parse_abc_tune(tune, name, len(scores) + 1)
            done += 1
            if score is not None:
                scores.append(score)
                yield score
        complete = True
    finally:
        if complete:
            _write_cache(cache, [s.to_dict() for s in scores])
            part.unlink(missing_ok=True)
            _read_files[path] = tuple(scores)
        elif done > started:
            _write_cache(part, {"tunes": done, "scores": [s.to_dict() for s in scores]})


def _read_cache(cache: Path) -> Any:
    """A cache file's JSON; None when there is none or it is unreadable (then the file is parsed again)."""
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        return None


def _write_cache(cache: Path, content: Any) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(content))
        tmp.replace(cache)
    except OSError as exc:
        log.debug("cannot write corpus cache %s: %s", cache, exc)


def _abc_tunes(path: str) -> list[str] | None:
    """Each tune of an ABC collection with the file's header before it, in music21's order (by reference
    number); None for anything else (one tune, another format, reference numbers that are not distinct)."""
    if not path.lower().endswith(".abc"):
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")  # as music21's ABCFile reads it
    except (OSError, UnicodeDecodeError):
        return None
    found = list(_ABC_REFERENCE.finditer(text))
    numbers = [m.group(1) for m in found]
    if len(found) < 2 or not all(n.isdigit() for n in numbers) or len({int(n) for n in numbers}) < len(found):
        return None
    header = text[:found[0].start()]
    ends = [m.start() for m in found[1:]] + [len(text)]
    tunes = {int(m.group(1)): text[m.start():end] for m, end in zip(found, ends)}
    return [header + tunes[number] for number in sorted(tunes)]


def _parse_abc_tune(tune: str, name: str, number: int) -> Score | None:
    """One tune of a collection as music21 reads it inside the collection (``name#number``); None for a tune
    music21 leaves out of the collection (it fails with an IndexError)."""
    music21 = _m21()
    try:
        handler = music21.abcFormat.ABCFile().readstr(tune)
        try:
            stream = music21.abcFormat.translate.abcToStreamScore(handler)
        except IndexError:
            return None
        return stream_to_score(stream, source=f"music21:{name}#{number}")
    except NeuroTunesError as exc:
        raise DatasetError(f"{name}: {exc}") from None
    except Exception as exc:  # music21 raises many kinds on odd files
        raise DatasetError(f"music21 could not parse tune {number} of {name}: {exc}") from None


def corpus_piece_count(paths: Sequence[str]) -> int:
    """How many pieces the files hold: one per file, the tunes of an ABC collection (counted, not parsed)."""
    total = 0
    for path in paths:
        tunes = None
        if path.lower().endswith(".abc"):
            try:
                tunes = len(_ABC_REFERENCE.findall(Path(path).read_text(encoding="utf-8", errors="replace")))
            except OSError:
                pass
        total += max(tunes or 1, 1)
    return total


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
        Called with ``(pieces read, pieces wanted)`` after each piece (wanted: ``limit``, else every piece
        the files hold).
    errors
        If given, one message per skipped piece is appended.
    exclude
        Sources (``score.metadata["source"]``) to leave out, e.g. a reference set's held-out pieces
        (:func:`held_out_sources`); they do not count towards ``limit``.
    """
    paths = corpus_paths(key)
    total = limit or corpus_piece_count(paths)
    scores: list[Score] = []
    for path in paths:
        try:
            with contextlib.closing(iter_corpus_file(path)) as pieces:  # closed early: a collection part-read
                for score in pieces:
                    if score.metadata.get("source") in exclude:
                        continue
                    if len(score):
                        scores.append(score)
                        if progress:
                            progress(min(len(scores), total), total)
                    elif errors is not None:
                        errors.append(f"{score.metadata['source']}: no notes")
                    if limit and len(scores) >= limit:
                        break
        except NeuroTunesError as exc:
            log.warning("skipping %s: %s", path, exc)
            if errors is not None:
                errors.append(str(exc))
        if limit and len(scores) >= limit:
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
    pitched = score.without_drums()
    staves = [("upper", pitched.with_notes(n for n in pitched.notes if n.pitch >= TREBLE_SPLIT), music21.clef.TrebleClef()),
              ("lower", pitched.with_notes(n for n in pitched.notes if n.pitch < TREBLE_SPLIT), music21.clef.BassClef())]
    return _engrave(score, staves, title=title, group="brace", piano=True)


def voices_to_musicxml(score: Score, voices: Sequence[tuple[str, Score]], *, title: str = "NeuroTunes") -> bytes:
    """A choir score: one staff per voice (``(name, its notes)``, highest first), on a 1/16 grid.

    Soprano and alto on treble staves, tenor on the tenor's treble clef (an octave down), bass on a bass staff,
    as a chorale is printed for singers; ``score`` gives the tempo, key and time signature.

    Raises
    ------
    DatasetError
        No voice has a pitched note.
    """
    music21 = _m21()
    clefs = {"Soprano": music21.clef.TrebleClef, "Alto": music21.clef.TrebleClef,
             "Tenor": music21.clef.Treble8vbClef, "Bass": music21.clef.BassClef}
    staves = [(name, part.without_drums(), clefs.get(name, music21.clef.TrebleClef)()) for name, part in voices]
    return _engrave(score, staves, title=title, group="bracket", piano=False)


def _engrave(score: Score, staves: Sequence[tuple[str, Score, Any]], *, title: str, group: str, piano: bool) -> bytes:
    """Write ``staves`` (name, notes, clef) as one MusicXML score: quantized to 1/16, spelled in the key,
    simultaneous notes of a staff as chords."""
    music21 = _m21()
    if not any(len(notes) for _, notes, _ in staves):
        raise DatasetError("nothing to engrave: the piece has no pitched notes")
    key = _notation_key(score)
    # A pickup starts the music that far into its bar (rests before it), so the bar lines fall where they belong.
    shift = float(score.metadata.get(C.PICKUP_KEY, 0.0) or 0.0)
    fermatas = {round((float(b) + shift) * 4) / 4 for b in score.metadata.get(C.FERMATAS_KEY) or ()}
    parts = []
    for name, notes, clef in staves:
        pitched = notes.quantized(NOTATION_STEPS_PER_QUARTER)
        spb = pitched.seconds_per_beat
        part = (music21.stream.PartStaff if piano else music21.stream.Part)(id=name)
        if not piano:
            part.partName = name
        part.insert(0, clef)
        part.insert(0, music21.meter.TimeSignature(f"{score.time_signature[0]}/{score.time_signature[1]}"))
        if key is not None:
            part.insert(0, music21.key.KeySignature(key.sharps))
        for n in pitched.notes:
            m21_note = music21.note.Note(n.pitch, quarterLength=round(n.duration / spb * 4) / 4)
            m21_note.volume.velocity = n.velocity
            part.insert(round(n.start / spb * 4) / 4 + shift, m21_note)
        if not part.notes:  # an empty staff still needs a whole-bar rest to engrave
            part.insert(0, music21.note.Rest(quarterLength=score.time_signature[0] * 4 / score.time_signature[1]))
        # Simultaneous notes become chords; overlaps are split and tied, as a copyist would.
        staff = part.chordify() if part.notes else part
        if key is not None and staff.notes:
            _spell_in_key(staff, key)
        for el in staff.recurse().notes:
            if el.getOffsetInHierarchy(staff) in fermatas:
                el.expressions.append(music21.expressions.Fermata())
        parts.append(staff)
    piece = music21.stream.Score()
    piece.insert(0, music21.metadata.Metadata(title=title))
    piece.insert(0, music21.tempo.MetronomeMark(number=round(score.tempo_bpm)))
    for part in parts:
        piece.insert(0, part)
    piece.insert(0, music21.layout.StaffGroup(parts, symbol=group))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "score.musicxml"
        piece.write("musicxml", fp=str(path))
        return path.read_bytes()
