"""What a visitor made, kept on the server for their browser: a refresh or a new tab brings it all back.

Everything lives under ``data_dir()/sessions/<sha256 of the browser's secret>`` (the secret is
:mod:`neurotunes.ui.visitor`'s cookie, which a new page load adopts), one file per item::

    visited                     empty; its time is the last visit (folders unused for
                                $NEUROTUNES_SESSION_DAYS are removed)
    settings.json               {widget key: value} of every page's settings
    takes/<id>.json             a take: its Score (Score.to_dict), settings, model and trace
    transcriptions/<id>.json    a transcription's name, Score, settings and the recording's sha256;
    transcriptions/<id>.audio   the recording's bytes, as uploaded
    dataset/<id>.json           a piece accepted into the dataset
    chorale/<id>.json           the last harmonization on the Harmonize page: its name, Score (its share link in
                                its metadata), voices and messages
    built/<id>.json             the Dataset built on the Dataset page
    models/<id>.json, <id>.zip  a trained or loaded model's key; its bundle (JSON + npz, read back through
                                ModelBundle.from_zip and its hash check)

Nothing is pickled, and every file is written whole or not at all (a temporary file, then
``os.replace``).  A file that does not read back (corrupt, edited, from another version) is skipped
with a log line; a kept setting a page rejects sends the settings back to their defaults
(:func:`recover`).

Each full script run ends with :func:`save`, which writes only what changed: an item written once
is not written again while the session holds the same object, so a rerun costs a few dict
look-ups, and a 10 MB model is written once.  Settings persist across pages as well: Streamlit
drops a widget's value when its page is left; :func:`begin` puts the kept value back before the
page draws the widget.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import streamlit as st

from .. import constants as C
from ..bundle import MAX_BUNDLE_MB, ModelBundle
from ..config import GenerateConfig, settings_of
from ..dataset import Dataset
from ..encodings import EncodingConfig
from ..errors import NeuroTunesError
from ..generate import StepTrace
from ..harmonize import VOICES, Harmonization
from ..midi_io import score_to_midi
from ..score import Score
from . import state
from .widgets import slug

log = logging.getLogger(__name__)

LIMIT_ENV, DAYS_ENV = "NEUROTUNES_SESSION_MB", "NEUROTUNES_SESSION_DAYS"
DEFAULT_LIMIT_MB, DEFAULT_DAYS = 200.0, 30.0
SWEEP_EVERY_S = 3600.0  # expired folders are looked for at the server's first page, then hourly
VERSION = 1
MARKER = "visited"
#: Left in a browser's folder by "Delete everything kept on the server": its later visits keep nothing either.
OFF_MARKER = "keep-nothing"
MB = 1024 * 1024
DAY_S = 24 * 60 * 60
_FOLDER = re.compile(r"[0-9a-f]{64}")  # a session folder's name: a sha256; nothing else is touched
_LIST_ITEMS, _TEXT_CHARS = 100, 1000  # a kept setting holds a few chosen corpora or a model's name
_DEPTH = 2  # lists in a setting: a share link's [(name, value), ...]
_FILE_ID_CHARS = 24


def limit_mb() -> float:
    """The most a browser's kept files may take, in MB (``$NEUROTUNES_SESSION_MB``, default 200)."""
    return _positive_env(LIMIT_ENV, DEFAULT_LIMIT_MB)


def keep_days() -> float:
    """How long a browser's files are kept after its last visit (``$NEUROTUNES_SESSION_DAYS``, default 30)."""
    return _positive_env(DAYS_ENV, DEFAULT_DAYS)


def _positive_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        if (name, raw) not in _warned:  # once, not on every page
            _warned.add((name, raw))
            log.warning("%s=%r is not a positive number; using %g", name, raw, default)
        return default
    return value


_warned: set[tuple[str, str]] = set()


def sessions_dir() -> Path:
    return C.data_dir() / "sessions"


def folder_for(secret: str) -> Path:
    """The folder kept for the browser holding ``secret`` (named by its sha256: the secret is never stored)."""
    return sessions_dir() / hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- files -------------------------------------------------------------------------------------------------------
def _write(path: Path, data: bytes) -> None:
    """Write ``data`` whole or not at all: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _read_json(path: Path) -> Any:
    if path.stat().st_size > limit_mb() * MB:
        raise ValueError(f"{path.stat().st_size} bytes, over the {limit_mb():g} MB kept per browser")
    return json.loads(path.read_bytes())


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()  # its time is now, also when it was there


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:  # removed meanwhile (another tab of the same browser)
                pass
    return total


def _file_id(key: str) -> str:
    """A file name for an item's key (a transcription's name may hold any character)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:_FILE_ID_CHARS]


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _text(value: Any, what: str) -> str:
    _need(isinstance(value, str), f"{what} is not text")
    return value


# --- what is kept, item by item ----------------------------------------------------------------------------------
def _take_record(take: state.Take) -> dict[str, Any]:
    return {"number": take.number, "score": take.score.to_dict(), "model_name": take.model_name,
            "config": take.config.to_dict(), "parent": take.parent, "model_key": take.model_key,
            "primed": take.primed, "uid": take.uid, "parent_uid": take.parent_uid,
            "trace": [[t.token, list(t.top_tokens), [float(p) for p in t.top_probs]] for t in take.trace]}


def _take_from(record: Mapping[str, Any]) -> state.Take:
    number, parent = record["number"], record.get("parent")
    _need(type(number) is int and number >= 1, "the take's number is not a whole number from 1")
    _need(parent is None or type(parent) is int, "the take's parent is not a number")
    trace = []
    for step in record.get("trace", []):
        token, tokens, probs = step
        _need(isinstance(tokens, list) and isinstance(probs, list) and len(tokens) == len(probs),
              "a trace step is not a token with its choices")
        _need(all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in probs), "a trace step's chances")
        trace.append(StepTrace(_text(token, "a trace token"), [_text(t, "a trace token") for t in tokens],
                               [float(p) for p in probs]))
    primed = record.get("primed", False)
    _need(isinstance(primed, bool), "the take's primer flag is not true or false")
    parent_uid = record.get("parent_uid")
    _need(parent_uid is None or isinstance(parent_uid, str), "the take's parent is not a take's id")
    return state.Take(number, Score.from_dict(record["score"]), _text(record["model_name"], "the model's name"),
                      GenerateConfig.from_dict(record["config"]), trace, parent,
                      model_key=_text(record.get("model_key", ""), "the model's key"), primed=primed,
                      uid=_text(record.get("uid", str(number)), "the take's id"), parent_uid=parent_uid)


def _transcription_record(tr: state.Transcription) -> dict[str, Any]:
    return {"score": tr.score.to_dict(), "settings": tr.settings, "audio_sha256": hashlib.sha256(tr.audio).hexdigest()}


def _transcription_from(record: Mapping[str, Any], key: str, stem: Path) -> state.Transcription:
    audio_path = stem.with_suffix(".audio")
    _need(audio_path.stat().st_size <= C.MAX_UPLOAD_MB * MB, "the recording is over the upload limit")
    audio = audio_path.read_bytes()
    _need(hashlib.sha256(audio).hexdigest() == record["audio_sha256"], "the recording does not match its hash")
    settings = record.get("settings", {})
    _need(isinstance(settings, dict), "the transcription's settings are not an object")
    return state.Transcription(key, audio, Score.from_dict(record["score"]), settings)


def _model_from(record: Mapping[str, Any], key: str, stem: Path) -> ModelBundle:
    path = stem.with_suffix(".zip")
    _need(path.stat().st_size <= MAX_BUNDLE_MB * MB, f"the model is over {MAX_BUNDLE_MB} MB")
    return ModelBundle.from_zip(path.read_bytes(), name=key)  # JSON + npz, its hash checked: never a pickle


def _built_record(dataset: Dataset) -> dict[str, Any]:
    return {"train": [s.to_dict() for s in dataset.train], "validation": [s.to_dict() for s in dataset.validation],
            "encoding": dataset.encoding.to_dict(), "description": dataset.description,
            "key_normalized": dataset.key_normalized}


def _built_from(record: Mapping[str, Any]) -> Dataset:
    _need(isinstance(record["train"], list) and isinstance(record["validation"], list), "the pieces are not lists")
    key_normalized = record.get("key_normalized", False)
    _need(isinstance(key_normalized, bool), "key_normalized is not true or false")
    return Dataset(train=tuple(Score.from_dict(s) for s in record["train"]),
                   validation=tuple(Score.from_dict(s) for s in record["validation"]),
                   encoding=EncodingConfig.from_dict(record["encoding"]),
                   description=_text(record.get("description", ""), "the description"), key_normalized=key_normalized)


@dataclass(frozen=True)
class _Kind:
    """One kind of item kept, one file (or two) per item, named after its key."""

    folder: str
    label: str  # how the sidebar names one item ("take")
    items: Callable[[Mapping[str, Any]], Mapping[str, Any]]  # (the session's values) -> its items by key, oldest first
    record: Callable[[Any], dict[str, Any]]  # an item as JSON (in <id>.json)
    read: Callable[[Mapping[str, Any], str, Path], Any]  # (its record, key, path without suffix) -> the item
    put: Callable[[list[tuple[str, Any]]], None]  # restore items read back into a new session, oldest first
    blob: tuple[str, Callable[[Any], bytes]] | None = None  # a file beside the record: (suffix, its bytes)

    @property
    def suffixes(self) -> tuple[str, ...]:
        return (".json", self.blob[0]) if self.blob else (".json",)


def _take_read(record: Mapping[str, Any], key: str, stem: Path) -> state.Take:
    take = _take_from(record)
    _need(take.uid == key, "its id is not its key")
    return take


def _put_takes(items: list[tuple[str, Any]]) -> None:
    """Restore takes, oldest first.  Two tabs of one browser each number their own takes, so numbers can meet:
    the take written first keeps its number, a later one with the same number is numbered after all the others
    (and a take that continues it follows it)."""
    found = [take for _, take in items]
    taken: set[int] = set()
    clashing = []
    for take in found:
        if take.number in taken:
            clashing.append(take)
        taken.add(take.number)
    renumber = {}
    for take in clashing:
        renumber[take.uid] = max(taken) + 1
        taken.add(renumber[take.uid])
    number_of = {t.uid: renumber.get(t.uid, t.number) for t in found}
    restored = []
    for take in found:
        parent = number_of.get(take.parent_uid, take.parent) if take.parent_uid else take.parent
        if take.uid in renumber or parent != take.parent:
            take = replace(take, number=number_of[take.uid], parent=parent)
        restored.append(take)
    state.takes().extend(sorted(restored, key=lambda t: t.number))


def _chorale_record(made: tuple[str, Harmonization]) -> dict[str, Any]:
    name, chorale = made
    return {"name": name, "score": chorale.score.to_dict(), "voices": [list(v) for v in chorale.voices],
            "messages": list(chorale.messages)}


def _chorale_read(record: Mapping[str, Any], key: str, stem: Path) -> tuple[str, Harmonization]:
    score = Score.from_dict(record["score"])
    voices, messages = record["voices"], record.get("messages", [])
    _need(isinstance(voices, list) and len(voices) == len(VOICES) and
          all(isinstance(v, list) and all(type(i) is int and 0 <= i < len(score.notes) for i in v) for v in voices),
          "the voices are not lists of the chorale's notes")
    _need(isinstance(messages, list), "the messages are not a list")
    return (_text(record["name"], "the chorale's name"),
            Harmonization(score, tuple(tuple(v) for v in voices), tuple(_text(m, "a message") for m in messages)))


def _put_chorale(items: list[tuple[str, Any]]) -> None:
    st.session_state[state.CHORALE] = items[-1][1]


def _built_items(values: Mapping[str, Any]) -> dict[str, Any]:
    built = values.get(state.BUILT_DATASET)
    return {} if built is None else {"dataset": built}


def _put_built(items: list[tuple[str, Any]]) -> None:
    st.session_state[state.BUILT_DATASET] = items[-1][1]


#: In the order the limit drops them: the oldest takes first, then what can be made again, models last.
KINDS = (
    _Kind("takes", "take", lambda values: {t.uid: t for t in values.get(state.TAKES) or ()}, _take_record,
          _take_read, _put_takes),
    _Kind("chorale", "harmonization",
          lambda values: {} if values.get(state.CHORALE) is None else {"chorale": values[state.CHORALE]},
          _chorale_record, _chorale_read, _put_chorale),
    _Kind("built", "built dataset", _built_items, _built_record, lambda record, key, stem: _built_from(record),
          _put_built),
    _Kind("dataset", "dataset piece", lambda values: values.get(state.DATASET) or {}, lambda s: {"score": s.to_dict()},
          lambda record, key, stem: Score.from_dict(record["score"]), lambda items: state.dataset().update(items)),
    _Kind("transcriptions", "transcription", lambda values: values.get(state.TRANSCRIPTIONS) or {},
          _transcription_record, _transcription_from,
          lambda items: state.transcriptions().update(items), blob=(".audio", lambda tr: tr.audio)),
    _Kind("models", "model", lambda values: values.get(state.TRAINED_MODELS) or {}, lambda bundle: {}, _model_from,
          lambda items: state.trained_models().update(items), blob=(".zip", lambda bundle: bundle.to_zip())),
)


# --- settings ------------------------------------------------------------------------------------------------------
def setting_keys() -> tuple[str, ...]:
    """The widget key of every setting kept: Generate (its form and primer), Evaluate, Train, Transcribe, Dataset.

    (Never a file uploader's or a button's: Streamlit refuses a value set for those.)"""
    names = [name for name, about, _ in settings_of(GenerateConfig) if about.widget != "paired"]
    return (*(state.setting_key(n) for n in names), *(state.setting_key(n, state.EVALUATE_PAGE) for n in names),
            state.TAKES_AT_ONCE, state.PRIMER_SOURCE, state.PRIMER_TRANSCRIPTION, state.EVALUATE_MODELS,
            state.EVALUATE_REFERENCE, state.EVALUATE_SAMPLES, state.EVALUATE_NOTES, *state.TRAIN_SETTINGS, state.TRANSCRIBE_PRESET,
            *state.TRANSCRIBE_SETTINGS.values(), *state.DATASET_SETTINGS.values(), state.ACTIVE_MODEL,
            *state.HARMONIZE_SETTINGS,
            # Not widgets: the share link already opened, so a refresh of a page whose address holds it does
            # not make its take again (the take came back with the others); the model whose suggested settings
            # the form took, so a refresh keeps the settings the user chose since.
            state.SHARE_APPLIED, state.SUGGESTED_FOR)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= _TEXT_CHARS:
        return value
    raise TypeError(f"{type(value).__name__} is not a setting's value")


def _setting(value: Any, depth: int = 0) -> Any:
    """A setting's value as kept: scalars, and lists or tuples of them (a range slider's ends, a share link's
    (name, value) pairs; tuples stay tuples); TypeError for anything else."""
    if isinstance(value, (list, tuple)):
        if len(value) > _LIST_ITEMS or depth >= _DEPTH:
            raise TypeError(f"a list of {len(value)} values, {depth + 1} deep")
        return type(value)(_setting(v, depth + 1) for v in value)
    return _scalar(value)


def _setting_json(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        items = [_setting_json(v) for v in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    return value


def _setting_from_json(value: Any, depth: int = 0) -> Any:
    _need(depth <= _DEPTH, "nested too deep")
    if isinstance(value, dict):
        _need(set(value) == {"tuple"} and isinstance(value["tuple"], list), "an unknown value")
        return _setting(tuple(_setting_from_json(v, depth + 1) for v in value["tuple"]), depth)
    if isinstance(value, list):
        return _setting([_setting_from_json(v, depth + 1) for v in value], depth)
    return _setting(value, depth)


def _settings_file(values: Mapping[str, Any]) -> bytes:
    return _json_bytes({"version": VERSION, "values": {k: _setting_json(v) for k, v in values.items()}})


def _read_settings(folder: Path) -> dict[str, Any]:
    path = folder / "settings.json"
    if not path.exists():
        return {}
    try:
        data = _read_json(path)
        _need(isinstance(data, dict) and data.get("version") == VERSION and isinstance(data.get("values"), dict),
              "not a settings file of this version")
    except (OSError, ValueError) as exc:
        log.warning("ignored kept settings %s: %s", path, exc)
        return {}
    known, values = set(setting_keys()), {}
    for key, raw in data["values"].items():
        try:
            _need(key in known, "not a setting this app keeps")
            values[key] = _setting_from_json(raw)
        except (TypeError, ValueError) as exc:
            log.warning("ignored kept setting %r in %s: %s", key, path, exc)
    return values


# --- one browser's record ------------------------------------------------------------------------------------------
@dataclass
class Kept:
    """What this session knows of its folder: the objects on disk, so a save writes only what changed."""

    folder: Path
    off: bool = False  # the visitor deleted what was kept: this tab keeps nothing more on the server
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> key -> the object in its files
    dropped: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> key -> object not kept (the limit)
    saved_settings: dict[str, Any] = field(default_factory=dict)  # as in settings.json
    settings: dict[str, Any] = field(default_factory=dict)  # every kept setting's latest value in this session
    from_disk: dict[str, Any] = field(default_factory=dict)  # settings read back that no widget has changed since
    used: int = 0  # bytes in the folder after the last save
    page: str | None = None  # the page of the last run (url path)
    problem: str = ""  # the last save's failure, for the sidebar


def _kept(values: Mapping[str, Any] | None = None) -> Kept | None:
    return (st.session_state if values is None else values).get(state.KEPT)


def _values() -> dict[str, Any]:
    """The session's values, read without a yield point: after a page's ``st.stop()`` every
    ``st.session_state[...]`` raises StopException, ``to_dict()`` does not."""
    return st.session_state.to_dict()


_sweep_lock = threading.Lock()
_last_sweep = -math.inf
_folder_locks: dict[Path, threading.Lock] = {}


def _lock_for(folder: Path) -> threading.Lock:
    with _sweep_lock:
        return _folder_locks.setdefault(folder, threading.Lock())


def sweep_expired(now: float | None = None) -> list[Path]:
    """Remove the folders of browsers not seen for :func:`keep_days` days; the folders removed."""
    root = sessions_dir()
    if not root.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - keep_days() * DAY_S
    removed = []
    for folder in root.iterdir():
        if not (_FOLDER.fullmatch(folder.name) and folder.is_dir()):
            continue
        marker = folder / MARKER
        try:
            last = (marker if marker.exists() else folder).stat().st_mtime
        except OSError:
            continue
        if last < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("removed %d kept session folder(s) unused for %g days", len(removed), keep_days())
    return removed


def _sweep_when_due() -> None:
    """At the server's first page, then hourly, on a thread of its own: no page waits for it."""
    global _last_sweep
    now = time.monotonic()
    with _sweep_lock:
        if now - _last_sweep < SWEEP_EVERY_S:
            return
        _last_sweep = now

    def sweep() -> None:
        try:
            sweep_expired()
        except OSError as exc:
            log.warning("could not remove expired session folders: %s", exc)

    threading.Thread(target=sweep, name="neurotunes-session-sweep", daemon=True).start()


def begin(secret: str, page: str) -> Kept:
    """Call at every run before ``page`` (its url path) runs: a new session (a refresh, a new tab) gets back
    what was kept for ``secret``'s browser, and the page's settings are put back before its widgets are drawn.

    On a page switch every kept setting is set again, even one still in the session: the browser shows a
    widget's value only when the run that draws the widget set it (otherwise it draws the widget's default)."""
    _sweep_when_due()
    kept = _kept()
    if kept is None:
        folder = folder_for(secret)
        kept = Kept(folder, off=(folder / OFF_MARKER).is_file())  # what was deleted stays deleted after a refresh
        st.session_state[state.KEPT] = kept
        if not kept.off:
            _restore(kept)
    # What the browser sent with this run, noted now: the run before may not reach its save (a page switch
    # stops it where it is, and this run can start before its ``finally`` does).
    _note_settings(kept, _values())
    moved, kept.page = kept.page != page, page
    for key, value in kept.settings.items():
        # (Noted just above: a value set again is the session's own; one that cannot be kept is left alone.)
        if key not in st.session_state or (moved and _same(st.session_state[key], value)):
            st.session_state[key] = value
    return kept


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _restore(kept: Kept) -> None:
    folder = kept.folder
    if not folder.is_dir():
        return
    _touch(folder / MARKER)  # a visit
    for kind in KINDS:
        items = _read_kind(folder, kind)
        if items and not kind.items(_values()):  # a session holding items (none does, at its start) keeps its own
            kind.put(items)
            kept.written[kind.folder] = dict(items)
    kept.saved_settings = _read_settings(folder)
    kept.settings = dict(kept.saved_settings)
    kept.from_disk = dict(kept.saved_settings)
    kept.used = _folder_bytes(folder)


def _read_kind(folder: Path, kind: _Kind) -> list[tuple[str, Any]]:
    """Every item of ``kind`` that reads back, oldest first; the others are skipped with a log line."""
    found = []
    for path in (folder / kind.folder).glob("*.json"):
        try:
            record = _read_json(path)
            _need(isinstance(record, dict) and record.get("version") == VERSION, "not an item of this version")
            key, written = _text(record.get("key"), "its key"), record.get("written")
            _need(path.stem == _file_id(key), "its file name does not match its key")
            _need(type(written) is int, "no time written")
            found.append((written, key, kind.read(record.get("item", {}), key, path.with_suffix(""))))
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes a reader raise, it is only skipped
            log.warning("ignored a kept %s, %s: %s: %s", kind.label, path, type(exc).__name__, exc)
    return [(key, item) for _, key, item in sorted(found, key=lambda f: f[0])]


def save() -> None:
    """Call at the end of every full run, before drawing anything (after a page's ``st.stop()`` every element
    raises): keep the settings, write what changed, remove what is gone.

    Never raises: a full disk costs the copy on the server, not the page."""
    kept = None
    try:
        values = _values()
        kept = _kept(values)
        if kept is None:
            return
        with _lock_for(kept.folder):  # a stopped run's save can overlap the next run's (see begin)
            _note_settings(kept, values)
            if kept.off:
                return
            changed = [_save_settings(kept), *(_save_kind(kept, kind, values) for kind in KINDS)]
            if any(changed):
                _touch(kept.folder / MARKER)
                kept.used = _folder_bytes(kept.folder)
                _keep_within_limit(kept)
            kept.problem = ""
    except Exception:  # noqa: BLE001
        log.exception("could not keep the session in %s", kept.folder if kept else "(no record)")
        if kept is not None:
            kept.problem = "Your latest changes could not be kept on the server; download what you need."


def _note_settings(kept: Kept, values: Mapping[str, Any]) -> None:
    for key in setting_keys():
        if key not in values:
            continue
        try:
            value = _setting(values[key])
        except TypeError:
            continue
        kept.settings[key] = value
        if key in kept.from_disk and kept.from_disk[key] != value:  # a widget changed it: a value it accepts
            del kept.from_disk[key]


def _save_settings(kept: Kept) -> bool:
    if kept.settings == kept.saved_settings:
        return False
    _write(kept.folder / "settings.json", _settings_file(kept.settings))
    kept.saved_settings = dict(kept.settings)
    return True


def _save_kind(kept: Kept, kind: _Kind, values: Mapping[str, Any]) -> bool:
    items = kind.items(values)
    written = kept.written.setdefault(kind.folder, {})
    dropped = kept.dropped.setdefault(kind.folder, {})
    changed = False
    for key, item in list(items.items()):
        if written.get(key) is item or dropped.get(key) is item:
            continue
        stem = kept.folder / kind.folder / _file_id(key)
        if kind.blob:  # before the record: an item whose record reads back has its other file
            _write(stem.with_suffix(kind.blob[0]), kind.blob[1](item))
        _write(stem.with_suffix(".json"),
               _json_bytes({"version": VERSION, "key": key, "written": time.time_ns(), "item": kind.record(item)}))
        written[key], changed = item, True
        dropped.pop(key, None)
    for key in [k for k in written if k not in items]:
        _remove_item(kept, kind, key)
        del written[key]
        changed = True
    for key in [k for k in dropped if k not in items]:
        del dropped[key]
    return changed


def _remove_item(kept: Kept, kind: _Kind, key: str) -> int:
    """Delete an item's files; the bytes they held."""
    freed, stem = 0, kept.folder / kind.folder / _file_id(key)
    for suffix in kind.suffixes:
        path = stem.with_suffix(suffix)
        try:
            freed += path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            pass
    return freed


def _keep_within_limit(kept: Kept) -> None:
    """Over the limit, drop items from the server (not from this tab) until under: the oldest takes first."""
    limit = limit_mb() * MB
    for kind in KINDS:
        if kept.used <= limit:
            return
        written = kept.written.get(kind.folder, {})
        keys = sorted(written, key=lambda k: written[k].number) if kind.folder == "takes" else list(written)
        for key in keys:
            if kept.used <= limit:
                return
            kept.used -= _remove_item(kept, kind, key)
            kept.dropped.setdefault(kind.folder, {})[key] = written.pop(key)
            log.info("session %s over %g MB: dropped %s %s", kept.folder.name[:8], limit_mb(), kind.label, key)


def not_kept() -> list[str]:
    """What this tab holds that is not kept on the server (over the limit), oldest first."""
    values = _values()
    kept = _kept(values)
    if kept is None or kept.off:
        return []
    names = []
    for kind in KINDS:
        items = kind.items(values)
        for key, item in kept.dropped.get(kind.folder, {}).items():
            if items.get(key) is item:
                names.append(f"{kind.label} {item.number}" if kind.folder == "takes" else
                             kind.label if kind.folder in ("built", "chorale") else f"{kind.label} {key!r}")
    return names


def recover(exc: BaseException) -> bool:
    """After a page raised: when a widget rejected a setting read back from the server (edited, or from an older
    version with other ranges), forget those settings (back to their defaults) and say to run the page again."""
    kept = _kept()
    if kept is None or not kept.from_disk or not _raised_in_a_widget(exc):
        return False
    log.warning("a page rejected settings kept in %s (%s: %s); they go back to their defaults: %s",
                kept.folder, type(exc).__name__, exc, ", ".join(sorted(kept.from_disk)))
    for key in kept.from_disk:
        kept.settings.pop(key, None)
        if key in st.session_state:
            del st.session_state[key]
    kept.from_disk.clear()
    return True


def _raised_in_a_widget(exc: BaseException) -> bool:
    marker = f"{os.sep}streamlit{os.sep}elements{os.sep}"
    return any(marker in frame.f_code.co_filename for frame, _ in traceback.walk_tb(exc.__traceback__))


# --- the sidebar's actions -----------------------------------------------------------------------------------------
#: What Start fresh clears besides the settings: everything the visitor made and what the pages show of it.
_MADE = (state.TRANSCRIPTIONS, state.DATASET, state.TRAINED_MODELS, state.TAKES, state.TRAIN_JOB,
         state.BUILT_DATASET, state.EVALUATION, state.TAKE_SHOWN, state.TAKE_TO_SHOW, state.SHARE_APPLIED,
         state.CHORALE)


def start_fresh() -> None:
    """Forget everything this browser made, here and on the server; the settings go back to their defaults."""
    kept = _kept()
    job = st.session_state.get(state.TRAIN_JOB)
    if job is not None and job.active:
        job.stop()
    for key in (*_MADE, *setting_keys()):
        if key in st.session_state:
            del st.session_state[key]
    st.query_params.clear()  # a share link in the address bar would make its take again
    if kept is not None:
        shutil.rmtree(kept.folder, ignore_errors=True)
        st.session_state[state.KEPT] = Kept(kept.folder)


def delete_kept() -> None:
    """Delete this browser's files on the server; this tab keeps what it holds, and nothing more is saved for this
    browser, in this tab or after a refresh, until it asks to be kept again (a marker without content says so)."""
    kept = _kept()
    if kept is None:
        return
    shutil.rmtree(kept.folder, ignore_errors=True)
    try:
        kept.folder.mkdir(parents=True, exist_ok=True)
        _touch(kept.folder / OFF_MARKER)
        _touch(kept.folder / MARKER)  # swept like any folder once the browser stays away
    except OSError as exc:
        log.warning("could not mark %s as keeping nothing: %s", kept.folder.name, exc)
    st.query_params.clear()  # a share link in the address bar would make its take again after a refresh
    st.session_state[state.KEPT] = Kept(kept.folder, off=True, settings=kept.settings)


def keep_again() -> None:
    """Keep this tab's work on the server again: everything is written at the end of this run."""
    kept = _kept()
    if kept is not None:
        (kept.folder / OFF_MARKER).unlink(missing_ok=True)
        st.session_state[state.KEPT] = Kept(kept.folder, settings=kept.settings)


def everything_zip(takes: list, transcriptions: Mapping[str, Any], dataset: Mapping[str, Score],
                   models: Mapping[str, Any], settings: Mapping[str, Any]) -> bytes:
    """One .zip of everything: takes, transcriptions and dataset pieces as MIDI (and each recording), models as
    bundles, the settings as JSON.  Made when the visitor asks for it, on Streamlit's download thread."""
    takes, transcriptions, dataset, models = list(takes), dict(transcriptions), dict(dataset), dict(models)
    buf, names, skipped = io.BytesIO(), set(), []

    def add(name: str, data: bytes | str) -> None:
        stem, dot, ext = name.rpartition(".")
        n = 1
        while name in names:
            n += 1
            name = f"{stem}-{n}{dot}{ext}"
        names.add(name)
        zf.writestr(name, data)

    def midi(name: str, score: Score) -> None:
        try:
            add(name, score_to_midi(score))
        except NeuroTunesError as exc:
            skipped.append(f"{name}: {exc}")

    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for t in takes:
            midi(f"takes/{slug(f'take{t.number}-{t.model_name}-seed{t.config.seed}')}.mid", t.score)
        for name, tr in transcriptions.items():
            midi(f"transcriptions/{slug(name.rsplit('.', 1)[0])}-transcription.mid", tr.score)
            add(f"transcriptions/{slug(name)}", tr.audio)
        for name, score in dataset.items():
            midi(f"dataset/{slug(name.rsplit('.', 1)[0])}.mid", score)
        for key, bundle in models.items():
            add(f"models/{slug(key)}.zip", bundle.to_zip())
        add("settings.json", json.dumps({k: _setting_json(v) for k, v in settings.items()}, indent=1,
                                        sort_keys=True))
        if skipped:
            add("not-included.txt", "\n".join(skipped) + "\n")
    return buf.getvalue()


_FRESH_POPOVER, _DELETE_POPOVER = "nt_kept_fresh_open", "nt_kept_delete_open"


def _closing(popover: str, action: Callable[[], None]) -> Callable[[], None]:
    """A button's callback: do ``action``, then close the popover it sits in (it would stay open over the page)."""
    def run() -> None:
        action()
        st.session_state[popover] = False
    return run


def sidebar() -> Any:
    """The limits, and Download everything / Start fresh / Delete everything; returns the box of :func:`show`."""
    kept = _kept()
    box = st.empty()
    if kept is None:
        return box
    show(box)  # as the last save left it; redrawn after this run's save where the page lets the script draw
    with st.expander("Your work", icon=":material/inventory_2:"):
        st.download_button(
            "Download everything", partial(everything_zip, state.takes(), state.transcriptions(), state.dataset(),
                                           state.trained_models(), kept.settings),
            file_name="neurotunes-everything.zip", mime="application/zip", icon=":material/download:",
            width="stretch", on_click="ignore", key="nt_kept_download",
            help="Takes, transcriptions and dataset pieces as MIDI, your recordings, models (.zip), settings (JSON)")
        with st.popover("Start fresh", icon=":material/restart_alt:", width="stretch", key=_FRESH_POPOVER,
                        on_change="rerun"):
            st.write("Remove every take, transcription, dataset piece and model of this browser, here and on the "
                     "server, and set every setting back to its default?")
            st.button("Yes, start fresh", type="primary", key="nt_kept_fresh",
                      on_click=_closing(_FRESH_POPOVER, start_fresh))
        if kept.off:
            if st.button("Keep my work on the server again", icon=":material/cloud_upload:", width="stretch",
                         key="nt_kept_again"):
                keep_again()
                st.rerun()
        else:
            with st.popover("Delete everything kept on the server", icon=":material/delete_forever:",
                            width="stretch", key=_DELETE_POPOVER, on_change="rerun"):
                st.write("Delete the files kept for this browser? This tab keeps what it shows until you close or "
                         "refresh it, and keeps nothing more on the server.")
                st.button("Yes, delete them", type="primary", key="nt_kept_delete",
                          on_click=_closing(_DELETE_POPOVER, delete_kept))
    return box


def show(box: Any) -> None:
    """State the limits in ``box``, and what is not kept (over the limit) or could not be saved."""
    kept = _kept()
    if kept is None:
        return
    missing = not_kept()
    with box.container():
        if kept.off:
            st.caption(":material/cloud_off: Nothing of this tab is kept on the server now: a refresh loses it.")
        else:
            used = f"{kept.used / MB:.1f} MB" if kept.used >= MB / 10 else "under 0.1 MB"
            st.caption(f":material/cloud_done: Your work is kept on this server for this browser: up to "
                       f"{limit_mb():g} MB ({used} now), for {keep_days():g} days after your last visit.")
        if kept.problem:
            st.warning(kept.problem, icon=":material/cloud_off:")
        elif missing:
            shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
            st.warning(f"Over the {limit_mb():g} MB kept per browser, so not kept on the server (oldest takes "
                       f"first): {shown}. Download what you want to keep.", icon=":material/cloud_off:")
