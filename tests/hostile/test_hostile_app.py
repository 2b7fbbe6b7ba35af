"""Bad input through the app's own uploads and links (AppTest over the real library, real files the test makes).

Every kind an upload can carry goes through the page that takes it.  Each must
end in a message the user can read (an error or a warning), the page must stay
alive (no exception, no traceback), no server path may show, and what the user
already had (a transcription, a take, a built dataset, a model, their sound
settings) must still be there afterwards.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.ui import state
from tests.conftest import ROOT, make_score
from tests.hostile import inputs as bad

pytestmark = pytest.mark.slow
APP = str(ROOT / "app.py")


def _page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(f"app_pages/{name}.py")
    return at.run()


def _messages(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [w.value for w in at.warning]


def _assert_survived(at: AppTest, says: str) -> None:
    assert not at.exception, at.exception
    shown = _messages(at)
    assert any(says.lower() in m.lower() for m in shown), shown
    for message in shown:
        for path in bad.server_paths():
            assert path not in message, message


def _melody_wav() -> bytes:
    return bad.audio_bytes(bad.tone_melody())


def _truncated(wav: bytes) -> bytes:
    return wav[: 44 + (len(wav) - 44) // 2]


# --- audio, through Transcribe ------------------------------------------------------------------------
AUDIO = {
    "empty": (lambda: b"", "empty.wav", "could not transcribe empty.wav"),
    "text-as-wav": (lambda: b"hello, this is not audio" * 40, "text.wav", "could not transcribe text.wav"),
    "png-as-flac": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(2000), "image.flac", "could not transcribe image.flac"),
    "midi-as-mp3": (bad.good_midi, "song.mp3", "could not transcribe song.mp3"),
    "silent": (lambda: bad.audio_bytes(np.zeros(bad.RATE * 2, dtype=np.float32)), "quiet.wav", "silent"),
    "header-only": (lambda: _melody_wav()[:44], "header.wav", "could not transcribe header.wav"),
    "truncated": (lambda: _truncated(_melody_wav()), "cut.wav", "truncated"),
    "noise": (lambda: bad.audio_bytes(bad.white_noise()), "hiss.wav", "noise"),
    "html-name": (lambda: b"", "<img src=x onerror=alert(1)>.wav", "could not transcribe"),
}


@pytest.mark.parametrize("kind", list(AUDIO))
def test_bad_audio_through_the_transcribe_page(kind):
    make, name, says = AUDIO[kind]
    at = _page("transcribe")
    kept = make_score()
    at.session_state[state.TRANSCRIPTIONS] = {"keep.wav": state.Transcription("keep.wav", b"RIFF", kept)}
    at.run()
    at.file_uploader[0].set_value((name, make(), "audio/wav"))
    at.run()
    next(b for b in at.button if b.label == "Transcribe").click().run()
    _assert_survived(at, says)
    assert at.session_state[state.TRANSCRIPTIONS]["keep.wav"].score == kept
    assert not any(m.startswith("This page stopped") for m in _messages(at))


# --- music files, through Dataset ---------------------------------------------------------------------
def _midi_absurd_tempo() -> bytes:
    return bad.smf((0, bad.tempo(1)), *[e for p in (60, 62) for e in bad.note(p, length=1)])


MUSIC = {
    "empty-mid": (lambda: b"", "empty.mid"),
    "png-as-mid": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(500), "pic.mid"),
    "truncated-mid": (lambda: bad.good_midi()[:30], "cut.mid"),
    "absurd-tempo": (_midi_absurd_tempo, "fast.mid"),
    "drums-only": (lambda: bad.smf(*[e for p in (36, 38) for e in bad.note(p, channel=9)]), "drums.mid"),
    "no-notes": (lambda: bad.smf((0, bad.tempo(500_000))), "silence.mid"),
    "malformed-xml": (lambda: b"<?xml version='1.0'?><score-partwise><part", "broken.musicxml"),
    "garbage-abc": (lambda: bytes(range(256)) * 4, "noise.abc"),
    "zip-bomb": (lambda: bad.zip_bomb(60), "bomb.zip"),
    "zip-traversal": (lambda: bad.zip_of({"../evil.mid": bad.good_midi(), "/etc/x.mid": bad.good_midi()}), "up.zip"),
    "zip-nested": (lambda: bad.zip_of({"inner.zip": bad.zip_of({"a.mid": bad.good_midi()})}), "nest.zip"),
    "zip-many-files": (lambda: bad.zip_of({f"f{i}.mid": b"x" for i in range(2001)}), "many.zip"),
    "fake-zip": (lambda: b"PK\x03\x04 not really a zip", "fake.zip"),
}


@pytest.mark.parametrize("kind", list(MUSIC))
def test_bad_music_files_through_the_dataset_page(kind):
    make, name = MUSIC[kind]
    from neurotunes.dataset import split_dataset

    at = _page("dataset")
    kept = split_dataset([make_score(), make_score(pitches=(62, 64, 65, 67))], validation_fraction=0.0, seed=0,
                         description="what the user built before")
    at.session_state[state.BUILT_DATASET] = kept
    at.run()
    at.file_uploader[0].set_value((name, make(), "application/octet-stream"))
    at.run()
    next(b for b in at.button if b.label == "Build dataset").click().run()
    assert not at.exception, at.exception
    assert any(name in w.value for w in at.warning), _messages(at)  # the file is named, with the reason
    assert [e.value for e in at.error] == ["Could not build the dataset: none of the chosen sources could be read "
                                           "(1 file(s) skipped, each listed with its reason)"]
    assert at.session_state[state.BUILT_DATASET] is kept  # a failed build keeps the last good one


# --- model bundles, through Train ---------------------------------------------------------------------
def _bundle_files() -> dict[str, bytes]:
    return bad.tiny_bundle().to_files()


BUNDLES = {
    "pickle-inside": (lambda: bad.zip_of({**_bundle_files(), "model.pkl": b"\x80\x04cos\nsystem\n."}),
                      "never a serialized model or pickle"),
    "object-weights": (lambda: bad.rehashed_bundle_zip(
        {**_bundle_files(), "weights.npz": bad.npz_bytes(w000=np.array([{"a": 1}], dtype=object))}), "plain array"),
    "nan-weights": (lambda: bad.tiny_bundle(fill=float("nan")).to_zip(), "not finite"),
    "tampered-hash": (lambda: bad.zip_of({**_bundle_files(), "metrics.json": b"{}",
                                          "config.json": _bundle_files()["config.json"] + b" "}), "modified"),
    "wrong-shapes": (lambda: bad.rehashed_bundle_zip(
        {**_bundle_files(), "weights.npz": bad.npz_bytes(w000=np.zeros((2, 2), np.float32))}), "do not fit"),
    "not-a-zip": (lambda: b"just some text", "not a valid .zip"),
    "empty": (lambda: b"", "not a valid .zip"),
}


@pytest.mark.parametrize("kind", list(BUNDLES))
def test_bad_model_bundles_through_the_train_page(kind):
    make, says = BUNDLES[kind]
    at = _page("train")
    good = bad.tiny_bundle()
    at.session_state[state.TRAINED_MODELS] = {"mine": good}
    at.run()
    at.file_uploader[0].set_value((f"{kind}.zip", make(), "application/zip"))
    at.run()
    next(b for b in at.button if b.label == "Load this model").click().run()
    _assert_survived(at, says)
    assert at.session_state[state.TRAINED_MODELS] == {"mine": good}


# --- a primer, through Generate -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["empty-mid", "png-as-mid", "truncated-mid", "drums-only"])
def test_bad_primers_through_the_generate_page(kind):
    make, name = MUSIC[kind]
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.slider(key=state.setting_key("length")).set_value(10)
    at.button[0].click().run()  # a take the user already has
    first = at.session_state[state.TAKES][0].score
    at.radio[0].set_value("A MIDI file").run()  # its uploader appears once the source is chosen
    at.file_uploader[0].set_value((name, make(), "audio/midi"))
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any(m.startswith("Generation failed") for m in _messages(at)), _messages(at)
    assert [t.score for t in at.session_state[state.TAKES]] == [first]


# --- a soundfont, through the sidebar -----------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00sfbk" + bytes(200), bytes(range(256)) * 64],
                         ids=["empty", "header-then-garbage", "random-bytes"])
def test_bad_soundfonts_through_the_sidebar(data, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=180).run()
    before = at.session_state[state.SOUND].soundfont
    at.sidebar.file_uploader[0].set_value(("mine.sf2", data, "application/octet-stream")).run()
    _assert_survived(at, "mine.sf2")
    assert at.session_state[state.SOUND].soundfont == before
    assert not at.session_state["nt_uploaded_soundfonts"]


# --- tampered share links -----------------------------------------------------------------------------
LINKS = {
    "unknown-model": ({"model": "../../etc/passwd", "hash": "0" * 12}, "unknown model"),
    "bad-hash": ({"model": "default", "hash": "<script>"}, "hash is malformed"),
    "other-version": ({"model": "default", "hash": "0" * 12}, "another version"),
    "unknown-setting": ({"model": "default", "hash": None, "evil": "1"}, "unknown setting"),
    "huge-length": ({"model": "default", "hash": None, "length": str(10**9)}, "length must be"),
    "nan-temperature": ({"model": "default", "hash": None, "temperature": "nan"}, "temperature must be"),
    "not-a-number": ({"model": "default", "hash": None, "seed": "<b>7</b>"}, "not a number"),
    "overlong-value": ({"model": "default", "hash": None, "scale": "x" * 5000}, "too long"),
}


@pytest.mark.parametrize("kind", list(LINKS))
def test_tampered_share_links_are_a_message(kind):
    from neurotunes.ui.cache import shipped_bundle

    params, says = LINKS[kind]
    params = {k: (shipped_bundle("default").hash[:12] if v is None else v) for k, v in params.items()}
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(params)
    at.run()
    _assert_survived(at, says)
    assert any(m.startswith("Could not open the shared link") for m in _messages(at))
    assert not at.session_state[state.TAKES]
    at.slider(key=state.setting_key("length")).set_value(10)
    at.button[0].click().run()  # the page still works
    assert len(at.session_state[state.TAKES]) == 1


# --- a title with HTML, through the gallery -----------------------------------------------------------
def test_html_in_a_gallery_title_is_shown_as_text(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    title = '<img src=x onerror="alert(1)"><b>Mine</b>'
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.slider(key=state.setting_key("length")).set_value(10)
    at.button[0].click().run()
    at.text_input[0].set_value(title)
    next(b for b in at.button if b.label == "Save to gallery").click().run()
    assert not at.exception and not at.error, _messages(at)
    at.switch_page("app_pages/gallery.py")
    at.run()
    assert title in [t.value for t in at.text]  # st.text: never Markdown, never HTML
    assert not any(title in m.value for m in at.markdown)
    assert json.dumps(title)  # the title round-tripped unchanged
