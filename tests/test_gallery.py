"""The gallery: save, list, play, delete; caps; concurrent saves; titles as text; owners; pages;
one track per take; delete with undo, then purged; the Gallery page's roll, share link and Continue in Generate.

Tests taking ``db`` run twice: on the embedded SQLite file and on a PostgreSQL server
(``NEUROTUNES_DATABASE_URL``, a fresh database per test on the session's private server).
Migrations of old SQLite files, SQLite's locking and most page tests run on SQLite only (``sqlite_db``)."""

import itertools
import json
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes import gallery
from neurotunes.gallery import GalleryError
from neurotunes.midi_io import score_to_midi
from neurotunes.ui import state
from neurotunes.ui.visitor import VISITOR
from tests.conftest import ROOT, make_score

# Two browsers' secrets, shaped like the app's (secrets.token_urlsafe(32)).
ALICE = "A" * 21 + "lice-secret_0123456789"
BOB = "B" * 23 + "ob-secret_0123456789"


@pytest.fixture
def sqlite_db(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(gallery.DATABASE_URL_ENV, raising=False)
    return tmp_path / "gallery.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, monkeypatch):
    """The gallery's location, on each database in turn."""
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(gallery.DATABASE_URL_ENV, raising=False)
    if request.param == "sqlite":
        yield tmp_path / "gallery.sqlite3"
        return
    from tests.postgres_server import fresh_database

    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        monkeypatch.setenv(gallery.DATABASE_URL_ENV, url)
        yield url


def _query(db, sql: str) -> list[tuple]:
    """Rows of ``sql`` read straight from the gallery's database, past the gallery's own code."""
    if gallery.is_postgres(db):
        import psycopg

        with psycopg.connect(db) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


_SEEDS = itertools.count()


def _take(seed=None, **recipe):
    """A generated take as the gallery sees it: notes and the recipe that made them (another seed: another take)."""
    seed = next(_SEEDS) if seed is None else seed
    recipe = {"model_name": "test", "model_hash": "f" * 64, "settings": {"seed": seed}, "primer": None, **recipe}
    return make_score(recipe=recipe, primer_notes=0)


def _save(title="My tune", owner=ALICE, score=None, **kw):
    score = score or _take()
    return gallery.save_track(title, score, score_to_midi(score), b"ID3 fake mp3", model="test", owner=owner, **kw)


def test_save_list_files_delete(db):
    first = _save("First")
    second = _save("  Second \n take\x00 ")
    tracks = gallery.list_tracks()
    assert [t.title for t in tracks] == ["Second take", "First"]
    assert tracks[0].notes == 8 and gallery.location() == db
    if gallery.is_postgres(db):
        assert not (db_folder := gallery.default_path()).exists(), db_folder  # nothing written beside the server
    midi, audio = gallery.track_files(first)
    assert midi.startswith(b"MThd") and audio == b"ID3 fake mp3"
    assert gallery.delete_track(second, owner=ALICE) and not gallery.delete_track(second, owner=ALICE)
    with pytest.raises(GalleryError, match="not in the gallery"):
        gallery.track_files(second)


def test_caps(db, monkeypatch):
    with pytest.raises(GalleryError, match="title"):
        _save("   ")
    with pytest.raises(GalleryError, match="at most 100"):
        _save("x" * 101)
    monkeypatch.setattr(gallery, "MAX_TRACK_BYTES", 10)
    with pytest.raises(GalleryError, match="over"):
        _save()
    monkeypatch.setattr(gallery, "MAX_TRACK_BYTES", 10**7)
    monkeypatch.setattr(gallery, "MAX_TRACKS", 2)
    _save(), _save()
    with pytest.raises(GalleryError, match="full"):
        _save()
    assert len(gallery.list_tracks()) == 2


def test_concurrent_saves_lose_nothing(db):
    errors = []

    def worker(n):
        try:
            for i in range(10):
                _save(f"thread {n} take {i}")
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    titles = {t.title for t in gallery.list_tracks()}
    assert len(titles) == 80


def test_first_save_waits_for_a_writer_on_a_new_database(sqlite_db):
    # A new database is in rollback-journal mode until a connection switches it
    # to WAL.  While another connection is writing, that switch fails at once
    # with "database is locked": SQLite's busy timeout does not cover it.  CI
    # hit this when eight threads saved to a new gallery together.
    writer = sqlite3.connect(sqlite_db, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other VALUES (1)")
    threading.Timer(0.3, lambda: writer.execute("COMMIT")).start()
    track = _save("Waited")
    writer.close()
    assert [t.id for t in gallery.list_tracks()] == [track]
    assert sqlite3.connect(sqlite_db).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _gallery_page(visitor=ALICE):
    """The Gallery page in AppTest, in a session whose browser secret is ``visitor``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[VISITOR] = visitor
    at.run()
    at.switch_page("app_pages/gallery.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _delete_buttons(at):
    """The buttons that delete (each in its track's "Delete" popover: deleting asks first)."""
    return [b for b in at.button if b.label == "Yes, delete"]


def _buttons(at, label):
    return [b for b in at.button if b.label == label]


@pytest.mark.slow
def test_gallery_page_shows_titles_as_text_deletes_and_undoes(db):
    title = "<img src=x onerror=alert(1)> **bold**"
    _save(title)
    at = _gallery_page()
    assert [t.value for t in at.text] == [title]  # st.text: never HTML/Markdown
    # The button that deletes sits behind a question, in the "Delete" popover.
    assert [p.proto.popover.label for p in at.get("popover")].count("Delete") == 1
    assert len(at.get("image")) == 1  # the track's piano roll
    _delete_buttons(at)[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert gallery.list_tracks() == [] and gallery.count_tracks() == 0  # gone for everyone ...
    assert [t.value for t in at.text] == [title] and not _delete_buttons(at)  # ... but here, with an Undo
    assert any("undo this for 10 more minutes" in c.value for c in at.caption)
    _buttons(at, "Undo")[0].click().run()
    assert [t.title for t in gallery.list_tracks()] == [title] and _delete_buttons(at) and not _buttons(at, "Undo")
    _delete_buttons(at)[0].click().run()
    at.session_state[VISITOR] = BOB  # another browser: the deletion is not its to undo
    at.run()
    assert any("Nothing saved yet" in i.value for i in at.info)


@pytest.mark.slow
def test_gallery_page_shows_a_page_and_reads_audio_only_when_played(sqlite_db, monkeypatch):
    for i in range(25):
        _save(f"Track {i}", owner=ALICE if i % 10 == 9 else BOB)  # Alice saved tracks 9 and 19 of 0..24
    reads = []
    real_files = gallery.track_files
    monkeypatch.setattr(gallery, "track_files",
                        lambda track_id, **kw: reads.append(track_id) or real_files(track_id, **kw))
    at = _gallery_page()
    assert [t.value for t in at.text] == [f"Track {i}" for i in range(24, 14, -1)]  # newest first, 10 a page
    assert not at.get("audio") and reads == []  # no audio read, nothing sent until someone listens
    assert len(at.get("image")) == 10  # a piano roll each (from the MIDI alone)
    assert len(_delete_buttons(at)) == 1  # only on Alice's track 19
    assert len([b for b in at.get("download_button") if b.key.startswith("g_")]) == 20  # MIDI, MP3: read when pressed

    at.toggle(key="g_listen_20").set_value(True).run()  # track id 20 is "Track 19"
    assert len(at.get("audio")) == 1 and reads == [20]

    at.session_state["g_page"] = 3
    at.run()
    assert [t.value for t in at.text] == [f"Track {i}" for i in range(4, -1, -1)]
    assert not _delete_buttons(at)
    assert any("25 tracks" in c.value and "showing 21–25" in c.value for c in at.caption)


@pytest.mark.slow
def test_operator_deletes_after_entering_the_password(sqlite_db, monkeypatch):
    monkeypatch.setenv(gallery.ADMIN_PASSWORD_ENV, "correct horse")
    _save("Bob's", owner=BOB)
    _save("Nobody's", owner=None)
    at = _gallery_page()
    assert not _delete_buttons(at)
    at.text_input(key="g_operator").set_value("wrong horse").run()
    assert "not the operator password" in at.error[0].value and not _delete_buttons(at)
    at.text_input(key="g_operator").set_value("correct horse").run()
    assert len(_delete_buttons(at)) == 2
    _delete_buttons(at)[0].click().run()
    assert [t.title for t in gallery.list_tracks()] == ["Bob's"]


@pytest.mark.slow
def test_gallery_page_says_when_operator_deletion_is_off(sqlite_db, monkeypatch):
    monkeypatch.delenv(gallery.ADMIN_PASSWORD_ENV, raising=False)
    at = _gallery_page()
    assert not at.text_input and any("Operator deletion is off" in c.value for c in at.caption)


def _save_button(at):
    [button] = [b for b in at.button if b.label in ("Save to gallery", "Saved")]
    return button


@pytest.mark.slow
def test_save_once_from_the_generate_page_and_continue_it_there(sqlite_db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.slider(key=state.setting_key("length")).set_value(20)
    at.slider(key=state.setting_key("temperature")).set_value(0.8)
    at.button[0].click().run()
    at.text_input[0].set_value("Chorale sketch")
    assert _save_button(at).label == "Save to gallery" and not _save_button(at).disabled
    _save_button(at).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert (_save_button(at).label, _save_button(at).disabled) == ("Saved", True)  # one save per take
    assert [t.title for t in gallery.list_tracks()] == ["Chorale sketch"]
    [track] = gallery.list_tracks(owner=at.session_state[VISITOR])
    assert track.mine  # saved with this browser's secret: its Gallery page offers Delete
    made = at.session_state[state.TAKES][-1]
    link = [c.value for c in at.code if "model=default" in c.value]

    at.switch_page("app_pages/gallery.py").run()
    assert [c.value.split("?")[1] for c in at.code] == [v.split("?")[1] for v in link]  # the same share link
    at.session_state[state.setting_key("temperature")] = 1.5  # a setting moved since the take was made ...
    _buttons(at, "Continue in Generate")[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    taken = at.session_state[state.TAKES][-1]  # ... the track is now a take of this session, on the Generate page
    assert len(at.session_state[state.TAKES]) == 2 and taken.number == 2 and taken.model_key == "default"
    assert [(n.pitch, n.velocity) for n in taken.score.notes] == [(n.pitch, n.velocity) for n in made.score.notes]
    assert taken.config == made.config and not taken.primed
    assert at.slider(key=state.setting_key("temperature")).value == 0.8  # ... and its settings are the form's
    assert at.session_state[state.TAKE_SHOWN] == 2
    assert (_save_button(at).label, _save_button(at).disabled) == ("Saved", True)  # still that one track
    assert gallery.count_tracks() == 1
    # (Continuing it there, and the page as a user sees it: tests/test_gallery_browser.py.  AppTest keeps the
    # Gallery's elements in its tree after st.switch_page, so a further run here trips over their keys.)


def test_only_the_owner_can_delete(db):
    track = _save(owner=ALICE)
    with pytest.raises(GalleryError, match="only the browser that saved this track"):
        gallery.delete_track(track, owner=BOB)
    with pytest.raises(GalleryError, match="only the browser that saved this track"):
        gallery.delete_track(track)
    assert [t.mine for t in gallery.list_tracks(owner=ALICE)] == [True]
    assert [t.mine for t in gallery.list_tracks(owner=BOB)] == [False]
    assert [t.mine for t in gallery.list_tracks()] == [False]
    assert gallery.delete_track(track, owner=ALICE)
    assert gallery.count_tracks() == 0


def test_the_secret_itself_is_not_stored(db):
    _save(owner=ALICE)
    stored = _query(db, "SELECT owner FROM tracks")[0][0]
    assert ALICE not in stored and len(stored) == 64  # hex SHA-256
    with pytest.raises(GalleryError, match="at least 16 characters"):
        _save(owner="short")
    with pytest.raises(GalleryError, match="only the browser"):
        gallery.delete_track(1, owner=stored)  # a copy of the database does not hand out the right to delete


def test_operator_password(db, monkeypatch):
    track = _save(owner=ALICE)
    monkeypatch.delenv(gallery.ADMIN_PASSWORD_ENV, raising=False)
    assert not gallery.operator_enabled() and not gallery.is_operator("")
    with pytest.raises(GalleryError, match="operator deletion is off"):
        gallery.delete_track(track, admin_password="anything")
    monkeypatch.setenv(gallery.ADMIN_PASSWORD_ENV, "correct horse")
    assert gallery.operator_enabled() and gallery.is_operator("correct horse") and not gallery.is_operator("")
    with pytest.raises(GalleryError, match="not the operator password"):
        gallery.delete_track(track, owner=BOB, admin_password="correct hors")
    with pytest.raises(GalleryError, match="only the browser"):
        gallery.delete_track(track, admin_password="")  # an empty password is no password
    assert gallery.count_tracks() == 1
    assert gallery.delete_track(track, owner=BOB, admin_password="correct horse")
    assert not gallery.delete_track(track, admin_password="correct horse")  # already gone


_OLD_SCHEMA = """
CREATE TABLE tracks (
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


def test_a_gallery_from_before_owners_is_migrated_in_place(sqlite_db, monkeypatch):
    old = sqlite3.connect(sqlite_db, isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute(_OLD_SCHEMA)
    old.execute("INSERT INTO tracks (title, created, model, recipe, notes, seconds, midi, audio) "
                "VALUES ('Old one', 1.0, 'm', '{}', 3, 1.5, x'4d546864', x'494433')")
    old.close()
    [track] = gallery.list_tracks(owner=ALICE)
    assert (track.title, track.notes, track.mine) == ("Old one", 3, False)
    columns = [row[1] for row in sqlite3.connect(sqlite_db).execute("PRAGMA table_info(tracks)")]
    assert columns[-4:] == ["owner", "take_key", "deleted", "deleted_by"] and len(set(columns)) == len(columns)
    assert gallery.track_files(track.id) == (b"MThd", b"ID3")
    with pytest.raises(GalleryError, match="saved before tracks had owners: only the operator"):
        gallery.delete_track(track.id, owner=ALICE)
    new = _save("New one", owner=ALICE)  # saves into the migrated table
    assert [(t.title, t.mine) for t in gallery.list_tracks(owner=ALICE)] == [("New one", True), ("Old one", False)]
    assert gallery.delete_track(new, owner=ALICE) and gallery.restore_track(new, owner=ALICE)
    assert gallery.delete_track(new, owner=ALICE)
    monkeypatch.setenv(gallery.ADMIN_PASSWORD_ENV, "correct horse")
    assert gallery.delete_track(track.id, admin_password="correct horse")
    assert gallery.count_tracks() == 0


def test_a_gallery_from_before_the_trash_gets_its_columns_and_indexes(sqlite_db):
    old = sqlite3.connect(sqlite_db, isolation_level=None)
    old.execute(_OLD_SCHEMA)
    old.execute("ALTER TABLE tracks ADD COLUMN owner TEXT")  # the release with owners, before take keys and the trash
    old.execute("CREATE INDEX tracks_newest ON tracks (created DESC, id DESC)")
    old.execute("INSERT INTO tracks (title, created, model, recipe, notes, seconds, midi, audio, owner) "
                "VALUES ('Old one', 1.0, 'm', 'not json', 3, 1.5, x'4d546864', x'494433', NULL)")
    old.close()
    [track] = gallery.list_tracks()
    assert (track.title, track.settings, track.model_hash, track.deleted) == ("Old one", "", "", None)
    indexes = {row[0] for row in sqlite3.connect(sqlite_db).execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"tracks_live", "tracks_take"} <= indexes and "tracks_newest" not in indexes
    first = _save("New", score=_take(seed=1))
    assert _save("New again", score=_take(seed=1)) == first and gallery.count_tracks() == 2


def test_one_track_per_take(db):
    take = _take(seed=7)
    first = _save("First title", score=take)
    assert _save("Second title", score=take, owner=BOB) == first  # the same take: the same track, its first title
    assert gallery.find_take(take) == first
    from neurotunes.midi_io import midi_to_score

    reloaded = midi_to_score(score_to_midi(take))  # a track opened from its MIDI is still the same take
    assert gallery.take_key(reloaded) == gallery.take_key(take) and gallery.find_take(reloaded) == first
    other = _save("Another seed", score=_take(seed=8))
    assert other != first and gallery.find_take(_take(seed=9)) is None
    assert [t.title for t in gallery.list_tracks()] == ["Another seed", "First title"]
    shorter = take.with_notes(take.notes[:-1])  # the same recipe cut short is other music
    assert _save("Cut short", score=shorter) not in (first, other)
    no_recipe = make_score()
    assert _save("Plain", score=no_recipe) == _save("Plain again", score=make_score())
    assert gallery.take_key(make_score(pitches=(60, 61))) != gallery.take_key(no_recipe)
    from neurotunes.generate import RECIPE_KEY

    assert gallery.RECIPE_KEY == RECIPE_KEY  # the key generate() writes the recipe under


def test_delete_can_be_undone_until_purged(db, monkeypatch):
    track = _save("Mine", owner=ALICE)
    assert gallery.delete_track(track, owner=ALICE)
    assert gallery.count_tracks() == 0 and gallery.list_tracks() == []  # gone for everyone else
    with pytest.raises(GalleryError, match="not in the gallery"):
        gallery.track_files(track)
    [deleted] = gallery.list_tracks(owner=ALICE)  # the deleter sees it, to undo
    assert deleted.deleted is not None and deleted.undo_until == pytest.approx(time.time() + 600, abs=5)
    assert gallery.count_tracks(owner=ALICE) == 1 and gallery.list_tracks(owner=BOB) == []
    with pytest.raises(GalleryError, match="only the browser that saved this track .* can restore"):
        gallery.restore_track(track, owner=BOB)
    assert gallery.restore_track(track, owner=ALICE) and not gallery.restore_track(track, owner=ALICE)
    assert [(t.title, t.deleted) for t in gallery.list_tracks()] == [("Mine", None)]
    assert gallery.track_files(track)[1] == b"ID3 fake mp3"

    assert gallery.delete_track(track, owner=ALICE)
    monkeypatch.setattr(gallery, "UNDO_SECONDS", 0)  # ten minutes later
    assert gallery.list_tracks(owner=ALICE) == []
    with pytest.raises(GalleryError, match="deleted for good"):
        gallery.restore_track(track, owner=ALICE)
    assert _query(db, "SELECT COUNT(*) FROM tracks") == [(1,)]  # still on disk ...
    assert gallery.purge_trash() == 1
    assert _query(db, "SELECT COUNT(*) FROM tracks") == [(0,)]  # ... now gone


def test_every_write_purges_the_old_trash(db, monkeypatch):
    first, second = _save("First"), _save("Second")
    gallery.delete_track(first, owner=ALICE)
    monkeypatch.setattr(gallery, "UNDO_SECONDS", 0)
    gallery.delete_track(second, owner=ALICE)  # a delete purges what is older than the undo time
    assert _query(db, "SELECT COUNT(*) FROM tracks") == [(0,)]
    _save("Third")
    monkeypatch.setattr(gallery, "UNDO_SECONDS", 600)
    gallery.delete_track(gallery.list_tracks()[0].id, owner=ALICE)
    monkeypatch.setattr(gallery, "UNDO_SECONDS", 0)
    _save("Fourth")  # and so does a save
    assert [t for (t,) in _query(db, "SELECT title FROM tracks")] == ["Fourth"]


def test_an_operators_delete_is_the_operators_to_undo(db, monkeypatch):
    monkeypatch.setenv(gallery.ADMIN_PASSWORD_ENV, "correct horse")
    alices, bobs = _save("Alice's", owner=ALICE), _save("Bob's", owner=BOB)
    assert gallery.delete_track(alices, admin_password="correct horse")
    assert gallery.delete_track(bobs, owner=BOB)
    assert gallery.list_tracks(owner=ALICE) == []  # the operator's deletion is not offered back to the owner
    with pytest.raises(GalleryError, match="only the operator can restore"):
        gallery.restore_track(alices, owner=ALICE)
    operator_sees = gallery.list_tracks(owner=ALICE, admin_password="correct horse")
    assert [(t.title, t.deleted is not None) for t in operator_sees] == [("Bob's", True), ("Alice's", True)]
    assert gallery.count_tracks(admin_password="wrong horse") == 0
    assert gallery.restore_track(alices, admin_password="correct horse")
    assert gallery.restore_track(bobs, admin_password="correct horse")
    assert gallery.count_tracks() == 2


def test_saving_a_deleted_take_again_and_a_full_gallery_with_trash(db, monkeypatch):
    take = _take(seed=3)
    first = _save("Kept", score=take)
    gallery.delete_track(first, owner=ALICE)
    again = _save("Saved again", score=take, owner=BOB)
    assert again != first and [t.title for t in gallery.list_tracks(owner=ALICE)] == ["Saved again"]
    with pytest.raises(GalleryError, match="deleted for good"):
        gallery.restore_track(first, owner=ALICE)  # the deleted copy made way for the new one

    monkeypatch.setattr(gallery, "MAX_TRACKS", 2)
    doomed = _save("Doomed")
    gallery.delete_track(doomed, owner=ALICE)  # live: 1, in the trash: 1, the cap: 2
    _save("Fits")  # the trash made room
    assert gallery.count_tracks() == 2 and not gallery.list_tracks(owner=ALICE)[-1].deleted
    with pytest.raises(GalleryError, match="full"):
        _save("Too many")


def test_a_listing_carries_the_recipe_not_the_primer(db, monkeypatch):
    primer = make_score(pitches=tuple(range(40, 100)))
    _save("Primed", score=_take(seed=5, primer=primer.to_dict()))
    _save("Plain", score=_take(seed=6, model_hash="a" * 64))
    plain, primed = gallery.list_tracks()
    assert (plain.model_hash, json.loads(plain.settings), plain.primed) == ("a" * 64, {"seed": 6}, False)
    assert (primed.model_hash, primed.primed) == ("f" * 64, True)
    texts = []
    connect = gallery._connect

    class Seen:  # what the database sent back, kept for the test
        def __init__(self, rows):
            self.rows = rows
            texts.extend(repr(row) for row in rows)

        def fetchall(self):
            return self.rows

        def fetchone(self):
            return self.rows[0] if self.rows else None

    def watched(path=None):
        conn = connect(path)
        execute = conn.execute
        conn.execute = lambda sql, params=(): Seen(execute(sql, params).fetchall())
        return conn

    monkeypatch.setattr(gallery, "_connect", watched)
    assert len(gallery.list_tracks()) == 2
    assert texts and not any('"pitch": 99' in t for t in texts)  # the primer's notes stay in the database
    assert any('seed' in t and '6' in t for t in texts)  # the watch works: the settings came through it


def test_a_tracks_notes_and_piano_roll(db):
    take = _take(seed=4).with_metadata(primer_notes=3)
    track = _save(score=take)
    score = gallery.track_score(track)
    assert [n.pitch for n in score.notes] == [n.pitch for n in take.notes]  # from the MIDI, with its recipe
    assert gallery.take_key(score) == gallery.take_key(take)
    svg = ET.fromstring(gallery.roll_svg(score))
    rects = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 1 + len(take)  # the background, then a bar per note
    fills = [r.get("fill") for r in rects[1:]]
    assert len(set(fills[:3])) == 1 and fills[0] != fills[3]  # primer notes in orange, the rest violet
    heights = {r.get("y") for r in rects[1:]}
    assert len(heights) == len({n.pitch for n in take.notes})  # a row per pitch
    xs = [float(r.get("x")) for r in rects[1:]]
    assert xs == sorted(xs) and xs[0] < xs[-1] < gallery.ROLL_WIDTH
    empty = ET.fromstring(gallery.roll_svg(make_score(pitches=())))
    assert len(empty.findall("{http://www.w3.org/2000/svg}rect")) == 1


def test_pages_newest_first(db):
    ids = [_save(f"Track {i}") for i in range(23)]
    assert gallery.count_tracks() == 23
    pages = [gallery.list_tracks(limit=10, offset=offset) for offset in (0, 10, 20, 30)]
    assert [len(p) for p in pages] == [10, 10, 3, 0]
    assert [t.id for p in pages for t in p] == ids[::-1]
    assert [t.id for t in gallery.list_tracks(offset=20)] == ids[2::-1]
    with pytest.raises(GalleryError, match="at least 1 track"):
        gallery.list_tracks(limit=0)
    with pytest.raises(GalleryError, match="negative"):
        gallery.list_tracks(limit=10, offset=-10)


def test_listing_and_counting_read_no_files(sqlite_db, monkeypatch):
    for i in range(3):
        _save(f"Track {i}", owner=ALICE if i else BOB)
    read = set()
    connect = gallery._connect

    def note_reads(action, table, column, *_):
        if action == sqlite3.SQLITE_READ:
            read.add(column)
        return sqlite3.SQLITE_OK

    def watched(path=None):
        conn = connect(path)
        conn.raw.set_authorizer(note_reads)  # SQLite names every column a statement reads, while preparing it
        return conn

    monkeypatch.setattr(gallery, "_connect", watched)
    assert gallery.count_tracks() == 3
    assert [t.mine for t in gallery.list_tracks(owner=ALICE, limit=10)] == [True, True, False]
    assert read and not read & {"midi", "audio"}, read
    gallery.track_files(1)
    assert {"midi", "audio"} <= read  # the watch works


def test_replicas_share_one_postgres_gallery(postgres_server, tmp_path, monkeypatch):
    """Two app processes (replicas behind a load balancer) saving at once into one PostgreSQL gallery."""
    import subprocess
    import sys

    from tests.postgres_server import fresh_database

    script = (
        "import sys; from neurotunes import gallery; from neurotunes.midi_io import score_to_midi; "
        "from tests.conftest import make_score\n"
        "for i in range(8):\n"
        "    s = make_score(recipe={'model_hash': 'f' * 64, 'settings': {'seed': i}, 'who': sys.argv[1]})\n"
        "    gallery.save_track(f'{sys.argv[1]} {i}', s, score_to_midi(s), b'mp3', model='m', owner=sys.argv[2])\n"
    )
    with fresh_database(postgres_server) as url:
        env = {**__import__("os").environ, gallery.DATABASE_URL_ENV: url, "NEUROTUNES_DATA_DIR": str(tmp_path)}
        procs = [subprocess.Popen([sys.executable, "-c", script, name, secret], cwd=ROOT, env=env,
                                  stderr=subprocess.PIPE, text=True)
                 for name, secret in (("alice", ALICE), ("bob", BOB))]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        monkeypatch.setenv(gallery.DATABASE_URL_ENV, url)
        tracks = gallery.list_tracks(owner=ALICE)
        assert len(tracks) == 16 and sum(t.mine for t in tracks) == 8
        assert not (tmp_path / "gallery.sqlite3").exists()  # nothing went to the embedded file


def test_an_unreachable_database_is_a_clear_error_and_the_page_stays(sqlite_db, monkeypatch):
    with socket_closed_port() as port:
        monkeypatch.setenv(gallery.DATABASE_URL_ENV, f"postgresql://neuro:s3cret-pw@127.0.0.1:{port}/gallery")
        with pytest.raises(GalleryError, match="cannot be reached") as caught:
            gallery.list_tracks()
        assert "s3cret" not in str(caught.value)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state[VISITOR] = ALICE
        at.run()
        at.switch_page("app_pages/gallery.py").run()
        assert not at.exception
        errors = " ".join(e.value for e in at.error)
        assert "cannot be reached" in errors and "s3cret" not in errors


def socket_closed_port():
    """A context giving a loopback port nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        yield port

    return closed()
