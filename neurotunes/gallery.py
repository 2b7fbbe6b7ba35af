"""A gallery of saved tracks in SQLite or PostgreSQL, shared by every session of a host (or of several).

By default the database lives in ``$NEUROTUNES_DATA_DIR/gallery.sqlite3``
(default ``~/.neurotunes``): nothing to install or run.  With
``$NEUROTUNES_DATABASE_URL=postgresql://user:password@host/db`` it lives on a
PostgreSQL server (psycopg 3), so several app replicas behind a load balancer
share one gallery.  One short transaction per write (SQLite in WAL mode; on
PostgreSQL a table lock that only writers wait for) lets several sessions save
at once without losing anything; caps on title length, track count and size
keep a public host from filling its disk.  Titles are stored and
returned as plain text: showing them safely (as text, never HTML) is the page's job.

Each track remembers who may delete it: the SHA-256 of the secret of the browser
that saved it (never the secret itself), or nobody but the operator, who knows
the password in ``$NEUROTUNES_ADMIN_PASSWORD`` (no operator when it is unset).
Listing reads a page of rows without their MIDI and audio; those are read one
track at a time, when someone plays or downloads it.

A take is saved once: each track keeps its take's key (a hash of the recipe that
made it, see :func:`take_key`), and saving the same take again gives back the
track already saved.  Deleting moves a track to the trash for
:data:`UNDO_SECONDS`, where whoever deleted it may restore it; after that the
next write purges it for good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

from . import constants as C
from .errors import NeuroTunesError
from .midi_io import midi_to_score
from .plotting import GENERATED_COLORSCALE, PRIMER_COLORSCALE
from .score import Score

MAX_TITLE_CHARS = 100
MAX_TRACKS = 500
MAX_TRACK_BYTES = 20 * 1024 * 1024
BUSY_TIMEOUT_S = 30.0
# Tracks per gallery page.  All 500 tracks on one page cost 4.3 s of script per run (AppTest) and sent
# every MP3 (500 MB fetched by Chromium, 46-93 s on a loaded 2-core machine); a page of 10 without audio
# until a track is played costs 0.2-0.3 s and sends none.
PAGE_SIZE = 10
#: A track's piano-roll picture (SVG units: shown stretched to the card's width).
ROLL_WIDTH, ROLL_HEIGHT, ROLL_PADDING = 800, 120, 4
ROLL_BACKGROUND = "rgba(128, 128, 128, 0.10)"
#: (pale, deep) colours of a generated note and of a primer note: the Generate page's piano roll's.
_ROLL_COLOURS = {False: (GENERATED_COLORSCALE[0][1], GENERATED_COLORSCALE[-1][1]),
                 True: (PRIMER_COLORSCALE[0][1], PRIMER_COLORSCALE[-1][1])}
#: The score metadata key of the recipe that made a take (neurotunes.generate.RECIPE_KEY: a higher layer).
RECIPE_KEY = "recipe"
#: How long a deleted track can be restored (by whoever deleted it) before it is purged for good.
UNDO_SECONDS = 10 * 60
MIN_OWNER_SECRET_CHARS = 16  # a shorter secret could be guessed; the app's are 43 (secrets.token_urlsafe(32))
ADMIN_PASSWORD_ENV = "NEUROTUNES_ADMIN_PASSWORD"
#: A PostgreSQL URL here puts the gallery on that server instead of the SQLite file.
DATABASE_URL_ENV = "NEUROTUNES_DATABASE_URL"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
#: Where a gallery lives: a SQLite file, or a PostgreSQL URL (text starting ``postgresql://``).
Location = Union[Path, str]

log = logging.getLogger(__name__)

# ``owner`` (hex SHA-256 of the saving browser's secret; NULL: only the operator
# may delete), the take's key and the trash columns sit before the blobs so that
# reading them never walks a blob's overflow pages.  A database from an older
# release gets the missing columns at the end (ALTER TABLE can only append).
# The index keeps a page's query to its own live rows; the unique index makes a
# take one track however many times it is saved (old tracks' NULL keys never clash).
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
    take_key TEXT,
    deleted REAL,
    deleted_by TEXT,
    midi BLOB NOT NULL,
    audio BLOB NOT NULL
)
"""
_ADDED_COLUMNS = ("owner TEXT", "take_key TEXT", "deleted REAL", "deleted_by TEXT")  # in the order releases added them
_INDEXES = (
    "DROP INDEX IF EXISTS tracks_newest",  # the index before the trash: every live-track query now filters on deleted
    "CREATE INDEX IF NOT EXISTS tracks_live ON tracks (deleted, created DESC, id DESC)",
    "CREATE UNIQUE INDEX IF NOT EXISTS tracks_take ON tracks (take_key)",
)
# The same table on PostgreSQL (ids from a sequence are never reused either).  A new server's gallery starts
# with every column, so it needs no migrations.
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    model TEXT NOT NULL,
    recipe TEXT NOT NULL,
    notes INTEGER NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    owner TEXT,
    take_key TEXT,
    deleted DOUBLE PRECISION,
    deleted_by TEXT,
    midi BYTEA NOT NULL,
    audio BYTEA NOT NULL
)
"""
_NEWEST_FIRST = "ORDER BY created DESC, id DESC"
#: Who moved a track to the trash, and so who may take it out: the browser that saved it, or the operator.
BY_OWNER, BY_OPERATOR = "owner", "operator"
#: The recipe's parts a listing needs, read by the database (the primer it may hold is never sent back).  SQLite:
#: a recipe that is not JSON (an old release's) reads as none; PostgreSQL galleries only ever held our JSON.
_RECIPE = "CASE WHEN json_valid(recipe) THEN recipe ELSE '{}' END"
_RECIPE_PARTS = (f"json_extract({_RECIPE}, '$.model_hash'), json_extract({_RECIPE}, '$.settings'), "
                 f"json_extract({_RECIPE}, '$.primer') IS NOT NULL")
_PG_RECIPE_PARTS = ("recipe::jsonb ->> 'model_hash', (recipe::jsonb -> 'settings')::text, "
                    "COALESCE(jsonb_typeof(recipe::jsonb -> 'primer') <> 'null', false)")


class GalleryError(NeuroTunesError):
    """The gallery is full, a title is unusable, or a track is missing."""


@dataclass(frozen=True)
class TrackInfo:
    """A saved track without its files.

    ``mine`` is True when the owner given to :func:`list_tracks` saved it (and so may delete it).
    ``deleted`` is when it went to the trash (None: it is live); ``model_hash``, ``settings``
    (JSON text, "" when the track carries no recipe) and ``primed`` come from the recipe that made it.
    """

    id: int
    title: str
    created: float
    model: str
    notes: int
    seconds: float
    mine: bool = False
    deleted: float | None = None
    model_hash: str = ""
    settings: str = ""
    primed: bool = False

    @property
    def undo_until(self) -> float | None:
        """When a deleted track is purged for good (None for a live one)."""
        return None if self.deleted is None else self.deleted + UNDO_SECONDS


def default_path() -> Path:
    """The SQLite file the gallery uses when no database URL is set."""
    return C.data_dir() / "gallery.sqlite3"


def location() -> Location:
    """Where the gallery lives: ``$NEUROTUNES_DATABASE_URL`` when it is set, otherwise :func:`default_path`."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    return url if url else default_path()


def is_postgres(where: Location) -> bool:
    return isinstance(where, str) and where.startswith(_POSTGRES_SCHEMES)


_SETUP_LOCK = threading.Lock()


class _Connection:
    """One connection to either database, in autocommit mode with explicit write transactions, speaking one SQL.

    Statements are written with ``?`` parameters (SQLite's style; none of ours has a literal ``?``) and
    translated for psycopg.  The few phrases the two dialects spell differently are attributes.
    """

    def __init__(self, raw: Any, postgres: bool):
        self.raw, self.postgres = raw, postgres
        self.false = "false" if postgres else "0"
        self.no_limit = "LIMIT ALL" if postgres else "LIMIT -1"
        self.recipe_parts = _PG_RECIPE_PARTS if postgres else _RECIPE_PARTS

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.postgres:
            return self.raw.execute(sql.replace("?", "%s"), list(params))
        return self.raw.execute(sql, tuple(params))

    def begin_write(self) -> None:
        """Start a transaction that holds the gallery's write lock: no two writers pass a check together."""
        if self.postgres:
            self.execute("BEGIN")
            self.execute("LOCK TABLE tracks IN SHARE ROW EXCLUSIVE MODE")  # writers queue; readers go on
        else:
            self.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


def _connect(path: Location | None = None) -> _Connection:
    where = location() if path is None else path
    if is_postgres(where):
        return _connect_postgres(str(where))
    where = Path(where)
    where.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(where, timeout=BUSY_TIMEOUT_S, isolation_level=None)  # explicit transactions below
    conn = _Connection(raw, postgres=False)
    try:
        _set_up(raw)
    except BaseException:
        conn.close()
        raise
    return conn


#: PostgreSQL galleries whose table this process has made sure of (once per URL, not per connection).
_PG_READY: set[str] = set()


def _connect_postgres(url: str) -> _Connection:
    import psycopg  # only a host that sets a database URL needs it

    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10,
                              options=f"-c lock_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    except psycopg.Error as exc:
        # The server's message can name the host and user, never the password; the log keeps it for the operator.
        log.warning("gallery database not reachable: %s", exc)
        raise GalleryError("the gallery's database cannot be reached right now; try again in a minute") from None
    conn = _Connection(raw, postgres=True)
    try:
        if url not in _PG_READY:
            _set_up_postgres(conn)
            _PG_READY.add(url)
    except BaseException:
        conn.close()
        raise
    return conn


def _set_up_postgres(conn: _Connection) -> None:
    """Create the table and its indexes if they are missing; replicas starting together take turns."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (0x6E657572,))  # one set-up at a time on this database
        conn.execute(_PG_SCHEMA)
        for statement in _INDEXES:
            conn.execute(statement)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


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
                _add_columns(conn)
                if not (_has_index(conn, "tracks_live") and _has_index(conn, "tracks_take")):  # once per database
                    for statement in _INDEXES:
                        conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.02)


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(tracks)")}


def _has_index(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone() is not None


def _add_columns(conn: sqlite3.Connection) -> None:
    """Give a SQLite gallery from an older release the columns it lacks; its old tracks keep NULL there.

    (Tracks saved before owners may be deleted only by the operator; before take keys, they are
    never recognised as a take saved again.)  The check is repeated under the write lock: another
    process may have added a column between the first look and the lock.
    """
    if {c.split()[0] for c in _ADDED_COLUMNS} <= _columns(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for column in _ADDED_COLUMNS:
            if column.split()[0] not in _columns(conn):
                conn.execute(f"ALTER TABLE tracks ADD COLUMN {column}")
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


def take_key(score: Score) -> str:
    """The key a take is saved under: the same take, however often saved or reloaded from its MIDI, has one key.

    A generated take is named by its recipe (model hash, settings with the seed, primer), which
    regenerates the same notes, and its note count (a take cut short is another take); a piece
    without a recipe by its notes (to the millisecond) and tempo.
    """
    recipe = score.metadata.get(RECIPE_KEY)
    if isinstance(recipe, dict) and recipe:
        basis: dict[str, object] = {"recipe": recipe, "notes": len(score)}
    else:
        basis = {"notes": [[n.pitch, round(n.start, 3), round(n.end, 3), n.velocity, n.program, n.is_drum]
                           for n in score.notes], "tempo": round(float(score.tempo_bpm), 3)}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8")).hexdigest()


def save_track(title: str, score: Score, midi: bytes, audio: bytes, *, model: str, owner: str | None,
               path: Location | None = None) -> int:
    """Store a track, once per take; returns its id.

    Saving a take that is in the gallery already (same :func:`take_key`) stores nothing and
    returns that track's id, whoever saved it and under whatever title.  A full gallery first
    purges its trash, oldest deletion first.

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
    recipe = json.dumps(dict(score.metadata).get(RECIPE_KEY) or {})
    key = take_key(score)
    with closing(_connect(path)) as conn:
        conn.begin_write()  # take the write lock before looking: no two saves pass a check together
        try:
            now = time.time()
            _purge(conn, now)
            saved = conn.execute("SELECT id, deleted FROM tracks WHERE take_key = ?", (key,)).fetchone()
            if saved is not None and saved[1] is None:
                conn.commit()
                return int(saved[0])
            if saved is not None:  # saved again while in the trash: the deleted copy goes for good
                conn.execute("DELETE FROM tracks WHERE id = ?", (saved[0],))
            if _count(conn, "TRUE") >= MAX_TRACKS:  # the trash makes room before the gallery says it is full
                conn.execute("DELETE FROM tracks WHERE id IN (SELECT id FROM tracks WHERE deleted IS NOT NULL "
                             "ORDER BY deleted LIMIT ?)", (_count(conn, "TRUE") - MAX_TRACKS + 1,))
                if _count(conn, "TRUE") >= MAX_TRACKS:
                    raise GalleryError(f"the gallery is full ({MAX_TRACKS} tracks); delete some first")
            (track_id,) = conn.execute(
                "INSERT INTO tracks (title, created, model, recipe, notes, seconds, owner, take_key, midi, audio) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (title, now, model[:MAX_TITLE_CHARS], recipe, len(score), float(score.duration),
                 owner_hash, key, bytes(midi), bytes(audio)),
            ).fetchone()
            conn.commit()
            return int(track_id)
        except BaseException:
            conn.rollback()
            raise


def find_take(score: Score, *, path: Location | None = None) -> int | None:
    """The id of the live track that holds this take (see :func:`take_key`), or None if it is not saved."""
    with closing(_connect(path)) as conn:
        row = conn.execute("SELECT id FROM tracks WHERE take_key = ? AND deleted IS NULL",
                           (take_key(score),)).fetchone()
    return None if row is None else int(row[0])


def _count(conn: _Connection, where: str, params: list | tuple = ()) -> int:
    (count,) = conn.execute(f"SELECT COUNT(*) FROM tracks WHERE {where}", params).fetchone()
    return int(count)


def _visible(owner: str | None, admin_password: str | None, now: float) -> tuple[str, list]:
    """The rows a caller sees: live tracks, and the deletions this caller may still undo."""
    cutoff = now - UNDO_SECONDS
    if is_operator(admin_password):
        return "(deleted IS NULL OR deleted > ?)", [cutoff]
    if owner:
        return ("(deleted IS NULL OR (deleted > ? AND deleted_by = ? AND owner = ?))",
                [cutoff, BY_OWNER, _owner_hash(owner)])
    return "deleted IS NULL", []


def count_tracks(*, owner: str | None = None, admin_password: str | None = None,
                 path: Location | None = None) -> int:
    """How many tracks :func:`list_tracks` lists for this caller (without one: the live tracks)."""
    where, params = _visible(owner, admin_password, time.time())
    with closing(_connect(path)) as conn:
        return _count(conn, where, params)


def list_tracks(*, owner: str | None = None, admin_password: str | None = None, limit: int | None = None,
                offset: int = 0, path: Location | None = None) -> list[TrackInfo]:
    """Saved tracks, newest first, without their MIDI and audio.

    Parameters
    ----------
    owner : str or None
        A browser's secret: the tracks it saved come back with ``mine=True``, and those it
        deleted less than :data:`UNDO_SECONDS` ago come back too, with ``deleted`` set.
    admin_password : str or None
        The operator password: every deletion that can still be undone comes back too.
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
    with closing(_connect(path)) as conn:
        # Without an owner, "mine" is a constant: the owner column is not read for it.
        mine, params = (f"COALESCE(owner = ?, {conn.false})", [_owner_hash(owner)]) if owner else (conn.false, [])
        where, where_params = _visible(owner, admin_password, time.time())
        sql = (f"SELECT id, title, created, model, notes, seconds, {mine}, deleted, {conn.recipe_parts} "
               f"FROM tracks WHERE {where} {_NEWEST_FIRST}")
        params += where_params
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"  # walks the index: only this page's rows are read
            params += [int(limit), int(offset)]
        elif offset:
            sql += f" {conn.no_limit} OFFSET ?"
            params.append(int(offset))
        rows = conn.execute(sql, params).fetchall()
    return [TrackInfo(*row[:6], mine=bool(row[6]), deleted=row[7], model_hash=row[8] or "", settings=row[9] or "",
                      primed=bool(row[10])) for row in rows]


def _live_blob(track_id: int, columns: str, path: Location | None) -> tuple:
    with closing(_connect(path)) as conn:
        row = conn.execute(f"SELECT {columns} FROM tracks WHERE id = ? AND deleted IS NULL",
                           (int(track_id),)).fetchone()
    if row is None:
        raise GalleryError("that track is not in the gallery (deleted?)")
    return tuple(bytes(v) for v in row)


def track_files(track_id: int, *, path: Location | None = None) -> tuple[bytes, bytes]:
    """``(midi, audio)`` of a saved track."""
    midi, audio = _live_blob(track_id, "midi, audio", path)
    return midi, audio


def track_score(track_id: int, *, path: Location | None = None) -> Score:
    """A saved track's notes, read from its MIDI (which carries the recipe that made it); its audio is not read."""
    (midi,) = _live_blob(track_id, "midi", path)
    return midi_to_score(midi, name=f"gallery track {int(track_id)}")


def delete_track(track_id: int, *, owner: str | None = None, admin_password: str | None = None,
                 path: Location | None = None) -> bool:
    """Move a track to the trash if the caller saved it or is the operator; False if it was already gone.

    Whoever deleted it may :func:`restore_track` it for :data:`UNDO_SECONDS`; then it is purged for good.

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
        # No transaction needed between the check and the update: ids are never
        # reused (AUTOINCREMENT, a sequence) and a track's owner never changes.
        row = conn.execute("SELECT owner FROM tracks WHERE id = ? AND deleted IS NULL", (int(track_id),)).fetchone()
        if row is None:
            return False
        by = _check_may(row[0], owner, admin_password, "delete")
        now = time.time()
        cur = conn.execute("UPDATE tracks SET deleted = ?, deleted_by = ? WHERE id = ? AND deleted IS NULL",
                           (now, by, int(track_id)))
        _purge(conn, now)
    return cur.rowcount > 0


def restore_track(track_id: int, *, owner: str | None = None, admin_password: str | None = None,
                  path: Location | None = None) -> bool:
    """Take a deleted track out of the trash (undo a delete); False if it was not deleted.

    The browser that saved a track may restore what it deleted; the operator may restore anything.

    Raises
    ------
    GalleryError
        The track was purged (deleted more than :data:`UNDO_SECONDS` ago) or never existed, or the
        caller may not restore it (an operator's deletion is the operator's to undo).
    """
    with closing(_connect(path)) as conn:
        conn.begin_write()  # no purge between the look and the restore
        try:
            now = time.time()
            row = conn.execute("SELECT owner, deleted, deleted_by FROM tracks WHERE id = ?",
                               (int(track_id),)).fetchone()
            if row is None or (row[1] is not None and row[1] <= now - UNDO_SECONDS):
                raise GalleryError(f"that track is deleted for good (a delete can be undone for "
                                   f"{UNDO_SECONDS // 60} minutes)")
            restored = False
            if row[1] is not None:
                by = _check_may(row[0], owner, admin_password, "restore")
                if row[2] == BY_OPERATOR and by != BY_OPERATOR:
                    raise GalleryError("the operator deleted this track: only the operator can restore it")
                restored = conn.execute("UPDATE tracks SET deleted = NULL, deleted_by = NULL WHERE id = ?",
                                        (int(track_id),)).rowcount > 0
            conn.commit()
            return restored
        except BaseException:
            conn.rollback()
            raise


def purge_trash(*, path: Location | None = None) -> int:
    """Delete for good the tracks deleted more than :data:`UNDO_SECONDS` ago; how many went.

    Every save and delete does this too, so a gallery that is used never keeps them.
    """
    with closing(_connect(path)) as conn:
        return _purge(conn, time.time())


def _purge(conn: _Connection, now: float) -> int:
    return conn.execute("DELETE FROM tracks WHERE deleted IS NOT NULL AND deleted <= ?",
                        (now - UNDO_SECONDS,)).rowcount


def _check_may(owner_hash: str | None, owner: str | None, admin_password: str | None, verb: str) -> str:
    """Who the caller is for this track (:data:`BY_OWNER` or :data:`BY_OPERATOR`), or a GalleryError."""
    if owner and owner_hash and hmac.compare_digest(_owner_hash(owner), owner_hash):
        return BY_OWNER
    if admin_password:
        if not operator_enabled():
            raise GalleryError(f"operator deletion is off: set {ADMIN_PASSWORD_ENV} on the server to turn it on")
        if is_operator(admin_password):
            return BY_OPERATOR
        raise GalleryError("that is not the operator password")
    if owner_hash is None:
        raise GalleryError(f"this track was saved before tracks had owners: only the operator can {verb} it")
    raise GalleryError(f"only the browser that saved this track (or the operator) can {verb} it")


def roll_svg(score: Score, *, width: int = ROLL_WIDTH, height: int = ROLL_HEIGHT) -> str:
    """A small piano-roll picture of ``score`` as SVG text: a bar per note, deeper for louder, primer notes orange.

    The picture holds numbers only (no title, no text from the track), so it is safe to show as an image.
    """
    notes = score.notes
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" rx="6" '
             f'fill="{ROLL_BACKGROUND}"/>']
    if notes:
        low = min(n.pitch for n in notes) - 1
        rows = max(n.pitch for n in notes) + 1 - low + 1
        end = max(n.end for n in notes)
        row_h = (height - 2 * ROLL_PADDING) / rows
        x_scale = (width - 2 * ROLL_PADDING) / end
        primer = int(score.metadata.get("primer_notes", 0) or 0)
        for i, n in enumerate(notes):
            pale, deep = _ROLL_COLOURS[i < primer]
            x = ROLL_PADDING + n.start * x_scale
            y = ROLL_PADDING + (low + rows - 1 - n.pitch) * row_h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(n.duration * x_scale, 1.0):.1f}" '
                         f'height="{max(row_h * 0.85, 1.0):.1f}" fill="{_mix(pale, deep, (n.velocity - 1) / 126)}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _mix(a: str, b: str, f: float) -> str:
    """The colour a fraction ``f`` of the way from hex colour ``a`` to ``b``."""
    ca, cb = (tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in (a, b))
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(ca, cb))
