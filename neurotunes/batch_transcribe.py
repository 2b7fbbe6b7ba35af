"""Many audio files -> MIDI files: folders, a process pool, and a manifest that makes a rerun resume.

:func:`transcribe_folder` takes files and folders (searched recursively for the
suffixes :mod:`neurotunes.transcribe` reads), mirrors each input's relative path
under the output folder and keeps ``manifest.json`` there: one entry per input with
its content hash, the MIDI written, the note count and, for a failure, the reason.

* A rerun skips every input whose sha256 is already ``"ok"`` (with the same settings)
  and whose MIDI is still there; failures are tried again.
* Inputs with the same content are transcribed once; the others get a copy of its MIDI.
* ``workers > 1`` runs a pool of spawned processes; each loads Basic Pitch once
  (:func:`neurotunes.transcribe.load_basic_pitch` caches it per process) and keeps it
  for every file it is given.  ``workers=1`` transcribes in this process.
* The manifest is replaced atomically (a temporary file, then ``os.replace``) after
  every finished file, so an interrupted run loses at most the files in flight.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

from . import constants as C
from .config import PostProcessConfig, TranscribeConfig
from .errors import NeuroTunesError
from .midi_io import write_midi
from .text import printable_name
from .transcribe import FFMPEG_EXTENSIONS, load_basic_pitch, transcribe_audio

log = logging.getLogger(__name__)

#: Suffixes picked up inside a folder: what soundfile decodes, then what ffmpeg adds when it is installed.
#: Files named on the command line are tried whatever their suffix.
AUDIO_SUFFIXES = tuple(f".{ext}" for ext in (*C.AUDIO_EXTENSIONS, *FFMPEG_EXTENSIONS))
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
OK, ERROR = "ok", "error"
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class BatchInput:
    """One audio file of a batch.

    Attributes
    ----------
    source
        The file as found (a path given by the user, or one found in a folder they gave).
    rel
        Its path relative to the batch: the manifest's key, mirrored under the output folder.
    midi
        The MIDI file's path relative to the output folder.
    """

    source: Path
    rel: PurePosixPath
    midi: PurePosixPath


@dataclass(frozen=True)
class FileResult:
    """What became of one input in this run (also the shape of its manifest entry).

    Attributes
    ----------
    path
        The input's path relative to the batch (``BatchInput.rel``), POSIX style.
    source
        The input file as found, for messages.
    target
        The MIDI file written (or that would have been), for messages.
    status
        ``"ok"`` or ``"error"``.
    sha256
        Hex digest of the file's bytes; ``None`` when they could not be read.
    midi
        The MIDI's path relative to the output folder; ``None`` for a failure.
    notes
        Notes written.
    seconds
        Length of the audio in seconds; ``None`` for a failure.
    elapsed_s
        Wall-clock seconds spent on this file.
    error
        The reason, one sentence, for a failure.
    warnings
        Problems that did not stop the transcription (a truncated file, noise).
    duplicate_of
        The input whose transcription was copied, for a file with the same content as another.
    """

    path: str
    source: Path
    target: Path
    status: str
    sha256: str | None = None
    midi: str | None = None
    notes: int = 0
    seconds: float | None = None
    elapsed_s: float = 0.0
    error: str | None = None
    warnings: tuple[str, ...] = ()
    duplicate_of: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    def entry(self, settings: str) -> dict[str, Any]:
        """The manifest entry: JSON values only, paths relative to the output folder."""
        return {
            "path": self.path, "sha256": self.sha256, "midi": self.midi, "notes": self.notes,
            "seconds": self.seconds, "elapsed_s": round(self.elapsed_s, 3), "status": self.status,
            "error": self.error, "warnings": list(self.warnings), "duplicate_of": self.duplicate_of,
            "settings": settings,
        }


@dataclass
class BatchReport:
    """The outcome of :func:`transcribe_folder`.

    Attributes
    ----------
    total
        Inputs found.
    results
        One per input handled in this run (transcribed, copied from a duplicate, or failed), in finishing order.
    skipped
        Relative paths of the inputs skipped because the manifest already holds them.
    manifest
        Path of ``manifest.json``.
    warnings
        Problems with the batch itself (an unreadable manifest), one sentence each.
    """

    total: int
    results: list[FileResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    manifest: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Inputs with a MIDI written in this run (transcribed or copied from a duplicate)."""
        return sum(r.ok for r in self.results)

    @property
    def duplicates(self) -> int:
        return sum(r.ok and r.duplicate_of is not None for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)

    def summary(self) -> str:
        """One line: done, skipped and failed counts."""
        copied = f" ({self.duplicates} copied from a file with the same content)" if self.duplicates else ""
        return (f"{self.done} done{copied}, {len(self.skipped)} skipped (already done), {self.failed} failed "
                f"of {self.total} files")


# --- inputs ---------------------------------------------------------------
def _audio_files_in(folder: Path) -> list[Path]:
    """Audio files under ``folder`` by suffix, in a stable order; hidden files and folders (``._x.mp3``) left out."""
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(top, f) for f in sorted(files)
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in AUDIO_SUFFIXES]
    return found


def _unique_tails(paths: Sequence[Path]) -> list[PurePosixPath]:
    """Each path's name, with as many parent folders as it takes to tell same-named files apart."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    by_name: dict[str, list[int]] = {}
    for i, p in enumerate(parts):
        by_name.setdefault(p[-1].casefold(), []).append(i)
    tails = [PurePosixPath(p[-1]) for p in parts]
    for group in by_name.values():
        for i in group if len(group) > 1 else ():
            for k in range(2, len(parts[i]) + 1):
                if sum(tuple(s.casefold() for s in parts[j][-k:]) == tuple(s.casefold() for s in parts[i][-k:])
                       for j in group) == 1:
                    break
            tails[i] = PurePosixPath(*[s for s in parts[i][-k:] if s != os.sep])
    return tails


def collect_inputs(paths: Sequence[Path | str]) -> list[BatchInput]:
    """The audio files named by ``paths`` (files, and folders searched recursively), each with its place in the batch.

    A single folder's files keep their path relative to it; with several inputs a folder's files
    are put under the folder's name and a file keeps its name.  Files of the same name from
    different folders get their parent folders too; two inputs that would give the same MIDI
    name (``x.wav`` and ``x.mp3``) keep their suffix in it (``x.wav.mid``).

    Parameters
    ----------
    paths
        Files (tried whatever their suffix; a missing one fails in the run, with its reason) and folders.

    Raises
    ------
    NeuroTunesError
        No audio file at all.
    """
    paths = [Path(p) for p in paths]
    files: list[tuple[Path, PurePosixPath | None]] = []
    for path in paths:
        if path.is_dir():
            prefix = PurePosixPath() if len(paths) == 1 else PurePosixPath(Path(os.path.abspath(path)).name)
            files += [(f, prefix / PurePosixPath(*f.relative_to(path).parts)) for f in _audio_files_in(path)]
        else:
            files.append((path, None))
    seen, unique = set(), []
    for source, rel in files:  # the same file named twice (a file and its folder) is one input
        key = os.path.realpath(source)
        if key not in seen:
            seen.add(key)
            unique.append((source, rel))
    if not unique:
        suffixes = ", ".join(s.lstrip(".") for s in AUDIO_SUFFIXES)
        raise NeuroTunesError(f"no audio files ({suffixes}) in {', '.join(printable_name(str(p)) for p in paths)}")
    # Loose files take their name; names that clash (with each other or a folder's file) take parent folders.
    loose = [i for i, (_, rel) in enumerate(unique) if rel is None]
    rels = [rel for _, rel in unique]
    for i, tail in zip(loose, _unique_tails([unique[i][0] for i in loose])):
        rels[i] = tail
    taken: set[str] = set()
    for i, rel in enumerate(rels):  # left only by a loose file named like a folder's file: made unique
        k, unique_rel = 1, rel
        while str(unique_rel).casefold() in taken:
            k += 1
            unique_rel = rel.with_name(f"{rel.stem}~{k}{rel.suffix}")
        rels[i] = unique_rel
        taken.add(str(unique_rel).casefold())
    stems = {}
    for rel in rels:
        stems.setdefault(str(rel.with_suffix("")).casefold(), []).append(rel)
    inputs = []
    for (source, _), rel in zip(unique, rels):
        clash = len(stems[str(rel.with_suffix("")).casefold()]) > 1
        midi = rel.with_name(rel.name + ".mid") if clash else rel.with_suffix(".mid")
        inputs.append(BatchInput(source=source, rel=rel, midi=midi))
    return inputs


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def settings_key(config: TranscribeConfig, post: PostProcessConfig) -> str:
    """A short digest of the settings: a MIDI made with other settings is not "already done"."""
    text = json.dumps({"transcribe": config.to_dict(), "postprocess": post.to_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- manifest -------------------------------------------------------------
def load_manifest(path: Path, warnings: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The entries of ``manifest.json`` by relative path; empty when there is none or it cannot be read.

    Parameters
    ----------
    warnings
        Receives one sentence when the file is there but cannot be read (it is then replaced).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        message = f"{printable_name(str(path))} cannot be read ({' '.join(str(exc).split())}): every file is done again"
        log.warning("%s", message)
        if warnings is not None:
            warnings.append(message)
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def write_manifest(path: Path, entries: dict[str, dict[str, Any]], settings: dict[str, Any]) -> None:
    """Replace ``manifest.json`` atomically: a reader (or an interrupted run) sees the old one or the new one."""
    data = {"version": MANIFEST_VERSION, "settings": settings, "files": dict(sorted(entries.items()))}
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


# --- one file (in this process or a worker) -------------------------------
def _init_worker(backend: str | None, log_level: int) -> None:
    """Pool initializer: the parent handles Ctrl-C, and Basic Pitch loads once, before the first file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        load_basic_pitch(backend)  # cached for this process: every file it is given reuses the model
    except Exception:  # the first file reports it, with the same message as in-process
        log.debug("Basic Pitch did not load in the worker", exc_info=True)


def transcribe_file(source: str, target: str, name: str, config: TranscribeConfig, post: PostProcessConfig,
                    backend: str | None = None) -> dict[str, Any]:
    """Transcribe one file to ``target``; never raises for a bad file.

    Returns
    -------
    dict
        ``status`` (``"ok"``/``"error"``), ``sha256`` of the bytes read, ``notes``, ``seconds`` (of audio),
        ``warnings``, ``error`` (one sentence) and ``elapsed_s``: picklable, for a worker process.
    """
    started = time.monotonic()
    out: dict[str, Any] = {"status": ERROR, "sha256": None, "notes": 0, "seconds": None, "warnings": [],
                           "error": None}
    try:
        path = Path(source)
        try:
            if path.is_dir():
                raise NeuroTunesError(f"{name} is a folder")
            size = path.stat().st_size
            if size > C.MAX_UPLOAD_MB * 1024 * 1024:
                raise NeuroTunesError(f"{name} is {size / 1e6:,.0f} MB; files over {C.MAX_UPLOAD_MB} MB are refused")
            data = path.read_bytes()
        except OSError as exc:
            raise NeuroTunesError(f"cannot read {name}: {exc.strerror or exc}") from None
        out["sha256"] = hashlib.sha256(data).hexdigest()
        score = transcribe_audio(data, config, post, name=name, backend=backend)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        write_midi(score, target)
        out.update(status=OK, notes=len(score), seconds=score.metadata.get("audio_seconds"),
                   warnings=[str(w) for w in score.metadata.get("warnings", [])])
    except NeuroTunesError as exc:
        out["error"] = " ".join(str(exc).split())
    except OSError as exc:  # writing the MIDI
        out["error"] = f"cannot write {printable_name(str(target))}: {exc.strerror or exc}"
    except Exception as exc:  # a bug of ours or a library's: this file fails, the batch goes on
        log.debug("unexpected failure on %s", name, exc_info=True)
        out["error"] = f"unexpected {type(exc).__name__} on {name}: {' '.join(str(exc).split())}"
    out["elapsed_s"] = time.monotonic() - started
    return out


# --- the batch ------------------------------------------------------------
def transcribe_folder(
    inputs: Sequence[Path | str],
    out_dir: Path | str,
    config: TranscribeConfig | None = None,
    post: PostProcessConfig | None = None,
    workers: int = 1,
    backend: str | None = None,
    on_result: Callable[[FileResult, int, int], None] | None = None,
    on_start: Callable[[BatchReport, int], None] | None = None,
) -> BatchReport:
    """Transcribe files and folders of audio into ``out_dir``, resuming where an earlier run stopped.

    Parameters
    ----------
    inputs
        Audio files and folders (searched recursively, see :func:`collect_inputs`).
    out_dir
        Output folder, created when missing: the MIDI files mirror the inputs' relative paths,
        next to ``manifest.json``.
    config, post
        Basic Pitch settings and clean-up, as for :func:`neurotunes.transcribe.transcribe_audio`.
    workers
        Processes transcribing at once; 1 transcribes in this process.
    backend
        Basic Pitch runtime (``None``: the fastest installed).
    on_result
        Called in this process after each input is handled, with its :class:`FileResult`,
        the number handled so far and the number to handle (skipped inputs not counted).
    on_start
        Called once, after hashing and before any transcription, with the report so far
        (``total``, ``skipped``, ``warnings``) and the number of inputs to handle.

    Returns
    -------
    BatchReport
        What was done, skipped and failed; failures never stop the batch.

    Raises
    ------
    NeuroTunesError
        No audio file among ``inputs``, or ``out_dir`` is a file.
    """
    config, post = config or TranscribeConfig(), post or PostProcessConfig()
    if workers < 1:
        raise NeuroTunesError(f"workers must be 1 or more, not {workers}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NeuroTunesError(f"{printable_name(str(out_dir))} is a file; the output must be a folder")
    batch = collect_inputs(inputs)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeuroTunesError(f"cannot create {printable_name(str(out_dir))}: {exc.strerror or exc}") from None
    manifest_path = out_dir / MANIFEST_NAME
    report = BatchReport(total=len(batch), manifest=manifest_path)
    entries = load_manifest(manifest_path, report.warnings)
    settings = settings_key(config, post)
    run_settings = {"key": settings, "transcribe": config.to_dict(), "postprocess": post.to_dict()}

    def done_midi(entry: dict[str, Any] | None) -> Path | None:
        """The MIDI of an entry that counts as done: ok, same settings, file still there."""
        if not entry or entry.get("status") != OK or entry.get("settings") != settings or not entry.get("midi"):
            return None
        midi = out_dir / entry["midi"]
        return midi if midi.is_file() else None

    done_by_sha = {e["sha256"]: rel for rel, e in entries.items() if e.get("sha256") and done_midi(e)}

    # Hash first: skip what is done, and send each content to the model once.
    todo: list[tuple[BatchInput, str | None]] = []  # (input, sha256 or None when unreadable)
    failed_early: list[FileResult] = []
    for item in batch:
        key, name = str(item.rel), printable_name(str(item.rel))
        try:
            sha = file_sha256(item.source) if item.source.is_file() else None
        except OSError as exc:
            failed_early.append(FileResult(path=key, source=item.source, target=out_dir / item.midi, status=ERROR,
                                           error=f"cannot read {name}: {exc.strerror or exc}"))
            continue
        own = entries.get(key)
        if sha and own and own.get("sha256") == sha and str(own.get("midi")) == str(item.midi) and done_midi(own):
            report.skipped.append(key)
            continue
        todo.append((item, sha))

    first_of: dict[str, BatchInput] = {}  # sha256 -> the input transcribed for it
    waiting: dict[str, list[BatchInput]] = {}  # sha256 -> inputs with the same content
    to_run: list[BatchInput] = []
    copies_now: list[tuple[BatchInput, str]] = []  # (input, rel of an earlier run's entry with its content)
    for item, sha in todo:
        if sha and sha in done_by_sha:
            copies_now.append((item, done_by_sha[sha]))
        elif sha and sha in first_of:
            waiting.setdefault(sha, []).append(item)
        else:
            if sha:
                first_of[sha] = item
            to_run.append(item)
    n_todo = len(failed_early) + len(todo)
    finished = 0
    if on_start:
        on_start(report, n_todo)

    def record(result: FileResult) -> None:
        nonlocal finished
        finished += 1
        report.results.append(result)
        entries[result.path] = result.entry(settings)
        write_manifest(manifest_path, entries, run_settings)
        if on_result:
            on_result(result, finished, n_todo)

    def copy_of(item: BatchInput, original: FileResult | dict[str, Any], original_rel: str) -> FileResult:
        """``item`` gets a copy of the MIDI made for the same content under ``original_rel``."""
        get = original.get if isinstance(original, dict) else lambda k, d=None: getattr(original, k, d)
        target, key = out_dir / item.midi, str(item.rel)
        started = time.monotonic()
        if get("status") != OK:
            return FileResult(path=key, source=item.source, target=target, status=ERROR, sha256=get("sha256"),
                              duplicate_of=original_rel, error=f"{printable_name(key)} has the same content as "
                                                               f"{printable_name(original_rel)}, which failed: "
                                                               f"{get('error')}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source = out_dir / get("midi")
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
        except OSError as exc:
            return FileResult(path=key, source=item.source, target=target, status=ERROR, sha256=get("sha256"),
                              duplicate_of=original_rel,
                              error=f"cannot write {printable_name(str(target))}: {exc.strerror or exc}")
        return FileResult(path=key, source=item.source, target=target, status=OK, sha256=get("sha256"),
                          midi=str(item.midi), notes=get("notes") or 0, seconds=get("seconds"),
                          warnings=tuple(get("warnings") or ()),
                          duplicate_of=original_rel if original_rel != key else None,
                          elapsed_s=time.monotonic() - started)

    def finish(item: BatchInput, sha: str | None, out: dict[str, Any]) -> None:
        key = str(item.rel)
        result = FileResult(path=key, source=item.source, target=out_dir / item.midi, status=out["status"],
                            sha256=out["sha256"] or sha, midi=str(item.midi) if out["status"] == OK else None,
                            notes=out["notes"], seconds=out["seconds"], elapsed_s=out["elapsed_s"],
                            error=out["error"], warnings=tuple(out["warnings"]))
        record(result)
        for twin in waiting.pop(sha, []) if sha else []:
            record(copy_of(twin, result, key))

    for result in failed_early:
        record(result)
    for item, rel in copies_now:
        record(copy_of(item, entries[rel], rel))
    shas = dict(todo)
    jobs = [(item, (str(item.source), str(out_dir / item.midi), printable_name(str(item.rel)), config, post, backend))
            for item in to_run]
    if workers == 1 or len(jobs) <= 1:
        for item, args in jobs:
            finish(item, shas[item], transcribe_file(*args))
        return report

    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=context, initializer=_init_worker,
        initargs=(backend, logging.getLogger().getEffectiveLevel()))
    try:
        futures = {pool.submit(transcribe_file, *args): item for item, args in jobs}
        for future in concurrent.futures.as_completed(futures):
            item = futures[future]
            try:
                out = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                out = {"status": ERROR, "sha256": None, "notes": 0, "seconds": None, "warnings": [],
                       "elapsed_s": 0.0, "error": f"the worker transcribing {printable_name(str(item.rel))} "
                                                  "stopped (out of memory?); run again to retry"}
            finish(item, shas[item], out)
    finally:  # Ctrl-C: files not started are dropped, those in flight finish; the manifest is already saved
        pool.shutdown(wait=True, cancel_futures=True)
    return report
