"""The SQLite gallery: save, list, play, delete; caps; concurrent saves; titles as text; owners; pages."""

import sqlite3
import threading

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
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    return tmp_path / "gallery.sqlite3"


def _save(title="My tune", owner=ALICE, **kw):
    score = make_score()
    return gallery.save_track(title, score, score_to_midi(score), b"ID3 fake mp3", model="test", owner=owner, **kw)


def test_save_list_files_delete(db):
    first = _save("First")
    second = _save("  Second \n take\x00 ")
    tracks = gallery.list_tracks()
    assert [t.title for t in tracks] == ["Second take", "First"]
    assert tracks[0].notes == 8 and db.exists()
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


def test_first_save_waits_for_a_writer_on_a_new_database(db):
    # A new database is in rollback-journal mode until a connection switches it
    # to WAL.  While another connection is writing, that switch fails at once
    # with "database is locked": SQLite's busy timeout does not cover it.  CI
    # hit this when eight threads saved to a new gallery together.
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other VALUES (1)")
    threading.Timer(0.3, lambda: writer.execute("COMMIT")).start()
    track = _save("Waited")
    writer.close()
    assert [t.id for t in gallery.list_tracks()] == [track]
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _gallery_page(visitor=ALICE):
    """The Gallery page in AppTest, in a session whose browser secret is ``visitor``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[VISITOR] = visitor
    at.run()
    at.switch_page("app_pages/gallery.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _delete_buttons(at):
    return [b for b in at.button if b.label == "Delete"]


@pytest.mark.slow
def test_gallery_page_shows_titles_as_text_and_deletes(db):
    _save("<img src=x onerror=alert(1)> **bold**")
    at = _gallery_page()
    assert [t.value for t in at.text] == ["<img src=x onerror=alert(1)> **bold**"]  # st.text: never HTML/Markdown
    _delete_buttons(at)[0].click().run()
    assert gallery.list_tracks() == []
    assert any("Nothing saved yet" in i.value for i in at.info)


@pytest.mark.slow
def test_gallery_page_shows_a_page_and_reads_audio_only_when_played(db, monkeypatch):
    for i in range(25):
        _save(f"Track {i}", owner=ALICE if i % 10 == 9 else BOB)  # Alice saved tracks 9 and 19 of 0..24
    reads = []
    real_files = gallery.track_files
    monkeypatch.setattr(gallery, "track_files",
                        lambda track_id, **kw: reads.append(track_id) or real_files(track_id, **kw))
    at = _gallery_page()
    assert [t.value for t in at.text] == [f"Track {i}" for i in range(24, 14, -1)]  # newest first, 10 a page
    assert not at.get("audio") and reads == []  # nothing read, nothing sent until someone listens
    assert len(_delete_buttons(at)) == 1  # only on Alice's track 19
    assert len([b for b in at.get("download_button")]) == 20  # MIDI and MP3 for each, read when pressed

    at.toggle(key="g_listen_20").set_value(True).run()  # track id 20 is "Track 19"
    assert len(at.get("audio")) == 1 and reads == [20]

    at.session_state["g_page"] = 3
    at.run()
    assert [t.value for t in at.text] == [f"Track {i}" for i in range(4, -1, -1)]
    assert not _delete_buttons(at)
    assert any("25 tracks" in c.value and "showing 21–25" in c.value for c in at.caption)


@pytest.mark.slow
def test_operator_deletes_after_entering_the_password(db, monkeypatch):
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
def test_gallery_page_says_when_operator_deletion_is_off(db, monkeypatch):
    monkeypatch.delenv(gallery.ADMIN_PASSWORD_ENV, raising=False)
    at = _gallery_page()
    assert not at.text_input and any("Operator deletion is off" in c.value for c in at.caption)


@pytest.mark.slow
def test_save_from_the_generate_page(db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.slider(key=state.setting_key("length")).set_value(20)
    at.button[0].click().run()
    at.text_input[0].set_value("Chorale sketch")
    next(b for b in at.button if b.label == "Save to gallery").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.title for t in gallery.list_tracks()] == ["Chorale sketch"]
    [track] = gallery.list_tracks(owner=at.session_state[VISITOR])
    assert track.mine  # saved with this browser's secret: its Gallery page offers Delete


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
    stored = sqlite3.connect(db).execute("SELECT owner FROM tracks").fetchone()[0]
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


def test_a_gallery_from_before_owners_is_migrated_in_place(db, monkeypatch):
    old = sqlite3.connect(db, isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute(_OLD_SCHEMA)
    old.execute("INSERT INTO tracks (title, created, model, recipe, notes, seconds, midi, audio) "
                "VALUES ('Old one', 1.0, 'm', '{}', 3, 1.5, x'4d546864', x'494433')")
    old.close()
    [track] = gallery.list_tracks(owner=ALICE)
    assert (track.title, track.notes, track.mine) == ("Old one", 3, False)
    columns = [row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(tracks)")]
    assert columns[-1] == "owner" and columns.count("owner") == 1
    assert gallery.track_files(track.id) == (b"MThd", b"ID3")
    with pytest.raises(GalleryError, match="saved before tracks had owners: only the operator"):
        gallery.delete_track(track.id, owner=ALICE)
    new = _save("New one", owner=ALICE)  # saves into the migrated table
    assert [(t.title, t.mine) for t in gallery.list_tracks(owner=ALICE)] == [("New one", True), ("Old one", False)]
    assert gallery.delete_track(new, owner=ALICE)
    monkeypatch.setenv(gallery.ADMIN_PASSWORD_ENV, "correct horse")
    assert gallery.delete_track(track.id, admin_password="correct horse")
    assert gallery.count_tracks() == 0


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


def test_listing_and_counting_read_no_files(db, monkeypatch):
    for i in range(3):
        _save(f"Track {i}", owner=ALICE if i else BOB)
    read = set()
    connect = gallery._connect

    def note_reads(action, table, column, *_):
        if action == sqlite3.SQLITE_READ:
            read.add(column)
        return sqlite3.SQLITE_OK

    def watched(path):
        conn = connect(path)
        conn.set_authorizer(note_reads)  # SQLite names every column a statement reads, while preparing it
        return conn

    monkeypatch.setattr(gallery, "_connect", watched)
    assert gallery.count_tracks() == 3
    assert [t.mine for t in gallery.list_tracks(owner=ALICE, limit=10)] == [True, True, False]
    assert read and not read & {"midi", "audio"}, read
    gallery.track_files(1)
    assert {"midi", "audio"} <= read  # the watch works
