"""The SQLite gallery: save, list, play, delete; caps; concurrent saves; titles as text."""

import sqlite3
import threading

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes import gallery
from neurotunes.gallery import GalleryError
from neurotunes.midi_io import score_to_midi
from tests.conftest import ROOT, make_score


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    return tmp_path / "gallery.sqlite3"


def _save(title="My tune", **kw):
    score = make_score()
    return gallery.save_track(title, score, score_to_midi(score), b"ID3 fake mp3", model="test", **kw)


def test_save_list_files_delete(db):
    first = _save("First")
    second = _save("  Second \n take\x00 ")
    tracks = gallery.list_tracks()
    assert [t.title for t in tracks] == ["Second take", "First"]
    assert tracks[0].notes == 8 and db.exists()
    midi, audio = gallery.track_files(first)
    assert midi.startswith(b"MThd") and audio == b"ID3 fake mp3"
    assert gallery.delete_track(second) and not gallery.delete_track(second)
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


@pytest.mark.slow
def test_gallery_page_shows_titles_as_text_and_deletes(db):
    _save("<img src=x onerror=alert(1)> **bold**")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/gallery.py").run()
    assert not at.exception
    assert [t.value for t in at.text] == ["<img src=x onerror=alert(1)> **bold**"]  # st.text: never HTML/Markdown
    assert len(at.get("audio")) == 1
    next(b for b in at.button if b.label == "Delete").click().run()
    assert gallery.list_tracks() == []
    assert any("Nothing saved yet" in i.value for i in at.info)


@pytest.mark.slow
def test_save_from_the_generate_page(db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.slider[1].set_value(20)
    at.button[0].click().run()
    at.text_input[0].set_value("Chorale sketch")
    next(b for b in at.button if b.label == "Save to gallery").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.title for t in gallery.list_tracks()] == ["Chorale sketch"]
