"""A gallery of saved tracks in SQLite, shared by every session of a host.

The database lives in ``$NEUROTUNES_DATA_DIR/gallery.sqlite3`` (default
``~/.neurotunes``).  WAL mode and one short transaction per write let several
sessions save at once without losing anything; caps on title length, track
count and size keep a public host from filling its disk.  Titles are stored and
returned as plain text: showing them safely (as text, never HTML) is the page's job.

Each track remembers who may delete it: the SHA-256 of the secret of the browser
that saved it (never the secret itself), or nobody but the operator, who knows
the password in ``$NEUROTUNES_ADMIN_PASSWORD`` (no operator when it is unset).
Listing reads a page of rows without their MIDI and audio; those are read one
track at a time, when someone plays or downloads it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
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
# Tracks per gallery page.  All 500 tracks on one page cost 4.3 s of script per run (AppTest) and sent
# every MP3 (500 MB fetched by Chromium, 46-93 s on a loaded 2-core machine); a page of 10 without audio
# until a track is played costs 0.2-0.3 s and sends none.
PAGE_SIZE = 10
MIN_OWNER_SECRET_CHARS = 16  # a shorter secret could be guessed; the app's are 43 (secrets.token_urlsafe(32))
ADMIN_PASSWORD_ENV = "NEUROTUNES_ADMIN_PASSWORD"

# ``owner`` (hex SHA-256 of the saving browser's secret; NULL: only the operator
# may delete) sits before the blobs so that reading it never walks a blob's
# overflow pages.  A database from before owners gets the column at the end
# (ALTER TABLE can only append); the index keeps a page's query to its own rows.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    recipe TEXT NOT NULL,
    notes INTEGER NOT NULL,
    seconds REAL NOT NULL,
    owner TEXT,
    midi BLOB NOT NULL,
    audio BLOB NOT NULL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS tracks_newest ON tracks (created DESC, id DESC)"
_NEWEST_FIRST = "ORDER BY created DESC, id DESC"


class GalleryError(NeuroTunesError):
    """The gallery is full, a title is unusable, or a track is missing."""


@dataclass(frozen=True)
class TrackInfo:
    """A saved track without its files.

    ``mine`` is True when the owner given to :func:`list_tracks` saved it (and so may delete it).
    """

    id: int
    title: str
    created: float
    model: str
    notes: int
    seconds: float
    mine: bool = False


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
                _add_owner_column(conn)
                conn.execute(_INDEX)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(tracks)")}


def _add_owner_column(conn: sqlite3.Connection) -> None:
    """Give a gallery saved before tracks had owners its ``owner`` column; its old tracks stay ownerless.

    The check is repeated under the write lock: another process may have added
    the column between the first look and the lock.
    """
    if "owner" in _columns(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if "owner" not in _columns(conn):
            conn.execute("ALTER TABLE tracks ADD COLUMN owner TEXT")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _owner_hash(owner: str) -> str:
    # Only the hash is stored: a copy of the database does not hand out the right to delete.
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()


def operator_enabled() -> bool:
    """Whether an operator password is set (``$NEUROTUNES_ADMIN_PASSWORD``)."""
    return bool(os.environ.get(ADMIN_PASSWORD_ENV))


def is_operator(password: str | None) -> bool:
    """Whether ``password`` is the operator password; always False when none is set."""
    expected = os.environ.get(ADMIN_PASSWORD_ENV, "")
    if not expected or not password:
        return False
    return hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))  # no timing hint


def clean_title(title: str) -> str:
    """A title as stored: control characters removed, whitespace collapsed, length checked."""
    text = " ".join("".join(ch for ch in str(title) if ch.isprintable()).split())
    if not text:
        raise GalleryError("give the track a title")
    if len(text) > MAX_TITLE_CHARS:
        raise GalleryError(f"titles are at most {MAX_TITLE_CHARS} characters (this one has {len(text)})")
    return text


def save_track(title: str, score: Score, midi: bytes, audio: bytes, *, model: str, owner: str | None,
               path: Path | None = None) -> int:
    """Store a track; returns its id.

    Parameters
    ----------
    owner : str or None
        The saving browser's secret: whoever presents it later may delete the
        track.  None: only the operator may.

    Raises
    ------
    GalleryError
        Empty or overlong title, a track over the size cap, a full gallery, or
        an owner secret that is too short to keep anyone else out.
    """
    title = clean_title(title)
    if owner is not None and len(owner) < MIN_OWNER_SECRET_CHARS:
        raise GalleryError(f"an owner secret needs at least {MIN_OWNER_SECRET_CHARS} characters "
                           f"(this one has {len(owner)})")
    owner_hash = None if owner is None else _owner_hash(owner)
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
                "INSERT INTO tracks (title, created, model, recipe, notes, seconds, owner, midi, audio) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (title, time.time(), model[:MAX_TITLE_CHARS], recipe, len(score), float(score.duration),
                 owner_hash, sqlite3.Binary(midi), sqlite3.Binary(audio)),
            )
            conn.execute("COMMIT")
            return int(cur.lastrowid)
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def count_tracks(*, path: Path | None = None) -> int:
    """How many tracks the gallery holds."""
    with closing(_connect(path)) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()
    return int(count)


def list_tracks(*, owner: str | None = None, limit: int | None = None, offset: int = 0,
                path: Path | None = None) -> list[TrackInfo]:
    """Saved tracks, newest first, without their MIDI and audio.

    Parameters
    ----------
    owner : str or None
        A browser's secret: the tracks it saved come back with ``mine=True``.
    limit, offset : int
        At most ``limit`` tracks (None: all), after skipping the ``offset`` newest.

    Raises
    ------
    GalleryError
        A negative offset or a limit below 1.
    """
    if limit is not None and limit < 1:
        raise GalleryError(f"a page holds at least 1 track (asked for {limit})")
    if offset < 0:
        raise GalleryError(f"cannot skip a negative number of tracks ({offset})")
    # Without an owner, "mine" is a constant: the owner column is not read at all.
    mine, params = ("COALESCE(owner = ?, 0)", [_owner_hash(owner)]) if owner else ("0", [])
    sql = f"SELECT id, title, created, model, notes, seconds, {mine} FROM tracks {_NEWEST_FIRST}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"  # walks the index: only this page's rows are read
        params += [int(limit), int(offset)]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params.append(int(offset))
    with closing(_connect(path)) as conn:
        rows = conn.execute(sql, params).fetchall()
    return [TrackInfo(*row[:6], mine=bool(row[6])) for row in rows]


def track_files(track_id: int, *, path: Path | None = None) -> tuple[bytes, bytes]:
    """``(midi, audio)`` of a saved track."""
    with closing(_connect(path)) as conn:
        row = conn.execute("SELECT midi, audio FROM tracks WHERE id = ?", (int(track_id),)).fetchone()
    if row is None:
        raise GalleryError("that track is not in the gallery (deleted?)")
    return bytes(row[0]), bytes(row[1])


def delete_track(track_id: int, *, owner: str | None = None, admin_password: str | None = None,
                 path: Path | None = None) -> bool:
    """Delete a track if the caller saved it or is the operator; False if it was already gone.

    Parameters
    ----------
    owner : str or None
        The secret of the browser asking; it may delete the tracks it saved.
    admin_password : str or None
        The operator password (``$NEUROTUNES_ADMIN_PASSWORD``); it may delete any track.

    Raises
    ------
    GalleryError
        Neither the owner nor the operator password is right for this track.
    """
    with closing(_connect(path)) as conn:
        # No transaction needed between the check and the delete: ids are never
        # reused (AUTOINCREMENT) and a track's owner never changes.
        row = conn.execute("SELECT owner FROM tracks WHERE id = ?", (int(track_id),)).fetchone()
        if row is None:
            return False
        _check_may_delete(row[0], owner, admin_password)
        cur = conn.execute("DELETE FROM tracks WHERE id = ?", (int(track_id),))
    return cur.rowcount > 0


def _check_may_delete(owner_hash: str | None, owner: str | None, admin_password: str | None) -> None:
    if owner and owner_hash and hmac.compare_digest(_owner_hash(owner), owner_hash):
        return
    if admin_password:
        if not operator_enabled():
            raise GalleryError(f"operator deletion is off: set {ADMIN_PASSWORD_ENV} on the server to turn it on")
        if is_operator(admin_password):
            return
        raise GalleryError("that is not the operator password")
    if owner_hash is None:
        raise GalleryError("this track was saved before tracks had owners: only the operator can delete it")
    raise GalleryError("only the browser that saved this track (or the operator) can delete it")
