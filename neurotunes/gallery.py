"""A gallery of saved tracks in SQLite, shared by every session of a host.

The database lives in ``$NEUROTUNES_DATA_DIR/gallery.sqlite3`` (default
``~/.neurotunes``).  WAL mode and one short transaction per write let several
sessions save at once without losing anything; caps on title length, track
count and size keep a public host from filling its disk.  Titles are stored and
returned as plain text: showing them safely (as text, never HTML) is the page's job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from . import constants as C
from .errors import NeuroTunesError
from .score import Score

MAX_TITLE_CHARS = 100
MAX_TRACKS = 500
MAX_TRACK_BYTES = 20 * 1024 * 1024
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    recipe TEXT NOT NULL,
    notes INTEGER NOT NULL,
    seconds REAL NOT NULL,
    midi BLOB NOT NULL,
    audio BLOB NOT NULL
)
"""


class GalleryError(NeuroTunesError):
    """The gallery is full, a title is unusable, or a track is missing."""


@dataclass(frozen=True)
class TrackInfo:
    id: int
    title: str
    created: float
    model: str
    notes: int
    seconds: float


def default_path() -> Path:
    return C.data_dir() / "gallery.sqlite3"


_SETUP_LOCK = threading.Lock()


def _connect(path: Path | None) -> sqlite3.Connection:
    path = Path(path or default_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)  # explicit transactions below
    try:
        _set_up(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _set_up(conn: sqlite3.Connection) -> None:
    """Switch to WAL and create the table, waiting out other connections doing the same.

    SQLite's busy timeout does not cover the switch to WAL: while another
    connection writes to a database still in rollback-journal mode (a new
    gallery whose first save is under way), the switch fails at once with
    "database is locked".  Connections in this process take turns; other
    processes are waited for by retrying until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    with _SETUP_LOCK:
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)


def clean_title(title: str) -> str:
    """A title as stored: control characters removed, whitespace collapsed, length checked."""
    text = " ".join("".join(ch for ch in str(title) if ch.isprintable()).split())
    if not text:
        raise GalleryError("give the track a title")
    if len(text) > MAX_TITLE_CHARS:
        raise GalleryError(f"titles are at most {MAX_TITLE_CHARS} characters (this one has {len(text)})")
    return text


def save_track(title: str, score: Score, midi: bytes, audio: bytes, *, model: str, path: Path | None = None) -> int:
    """Store a track; returns its id.

    Raises
    ------
    GalleryError
        Empty or overlong title, a track over the size cap, or a full gallery.
    """
    title = clean_title(title)
    if len(midi) + len(audio) > MAX_TRACK_BYTES:
        raise GalleryError(f"the track is over {MAX_TRACK_BYTES // (1024 * 1024)} MB; save a shorter one")
    recipe = json.dumps(dict(score.metadata).get("recipe") or {})
    with closing(_connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock before counting: no two saves pass the cap together
        try:
            (count,) = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()
            if count >= MAX_TRACKS:
                raise GalleryError(f"the gallery is full ({MAX_TRACKS} tracks); delete some first")
            cur = conn.execute(
                "INSERT INTO tracks (title, created, model, recipe, notes, seconds, midi, audio) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (title, time.time(), model[:MAX_TITLE_CHARS], recipe, len(score), float(score.duration),
                 sqlite3.Binary(midi), sqlite3.Binary(audio)),
            )
            conn.execute("COMMIT")
            return int(cur.lastrowid)
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def list_tracks(*, path: Path | None = None) -> list[TrackInfo]:
    """Every saved track, newest first (without the audio)."""
    with closing(_connect(path)) as conn:
        rows = conn.execute(
            "SELECT id, title, created, model, notes, seconds FROM tracks ORDER BY created DESC, id DESC"
        ).fetchall()
    return [TrackInfo(*row) for row in rows]


def track_files(track_id: int, *, path: Path | None = None) -> tuple[bytes, bytes]:
    """``(midi, audio)`` of a saved track."""
    with closing(_connect(path)) as conn:
        row = conn.execute("SELECT midi, audio FROM tracks WHERE id = ?", (int(track_id),)).fetchone()
    if row is None:
        raise GalleryError("that track is not in the gallery (deleted?)")
    return bytes(row[0]), bytes(row[1])


def delete_track(track_id: int, *, path: Path | None = None) -> bool:
    """Delete a track; False if it was already gone."""
    with closing(_connect(path)) as conn:
        cur = conn.execute("DELETE FROM tracks WHERE id = ?", (int(track_id),))
    return cur.rowcount > 0
