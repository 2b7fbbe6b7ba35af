"""The five defects of issue 13, each pinned by a test that failed before its fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neurotunes.errors import RenderError, TranscriptionError
from tests.conftest import ROOT, make_score
from tests.hostile.inputs import audio_bytes, good_midi, tone_melody, white_noise, zip_of

pytestmark = pytest.mark.slow


# --- 1. truncated audio ----------------------------------------------------------
def _cut(fmt: str, keep: float = 0.5) -> bytes:
    whole = audio_bytes(np.concatenate([tone_melody(), tone_melody()]), fmt=fmt)  # 5.6 s
    return whole[: int(len(whole) * keep)]


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "MP3"])
def test_truncated_audio_is_decoded_as_far_as_it_goes_with_a_warning(fmt):
    from neurotunes.transcribe import decode_audio

    warnings: list[str] = []
    audio, rate = decode_audio(_cut(fmt), name=f"cut.{fmt.lower()}", warnings=warnings)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"cut.{fmt.lower()} is truncated: its header promises 5.6 s")
    assert len(audio) / rate < 5.0  # what is there, no padding


def test_complete_and_streaming_wavs_give_no_truncation_warning():
    from neurotunes.transcribe import decode_audio

    whole = audio_bytes(tone_melody())
    warnings: list[str] = []
    decode_audio(whole, name="whole.wav", warnings=warnings)
    streaming = bytearray(whole)
    data_at = bytes(streaming).index(b"data")
    streaming[data_at + 4:data_at + 8] = b"\xff\xff\xff\xff"  # "length unknown", as recorders streaming to a pipe write
    decode_audio(bytes(streaming), name="stream.wav", warnings=warnings)
    for fmt in ("FLAC", "MP3", "OGG"):
        decode_audio(audio_bytes(tone_melody(), fmt=fmt), name=f"whole.{fmt.lower()}", warnings=warnings)
    assert warnings == []


def test_a_transcription_of_truncated_audio_carries_the_warning():
    """The app shows ``score.metadata["warnings"]``; the CLI prints them (tests/hostile/test_hostile_cli.py)."""
    from neurotunes.transcribe import transcribe_audio

    score = transcribe_audio(_cut("WAV"), name="cut.wav")
    assert len(score) >= 4
    assert [w.split(":")[0] for w in score.metadata["warnings"]] == ["cut.wav is truncated"]


# --- 2. noise ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def rendered_music():
    """Music as FluidSynth plays it: a piano scale, an organ chord line, a violin melody (44.1 kHz WAV bytes)."""
    from neurotunes.render import score_to_wav

    scale = make_score()
    chords = make_score(pitches=(48, 52, 55, 60, 53, 57, 60, 65), step=0.3, dur=0.6)
    return {"piano": score_to_wav(scale), "organ": score_to_wav(chords, program=19),
            "violin": score_to_wav(scale, program=40)}


def test_noise_detector_fires_on_noise_and_not_on_music(rendered_music):
    from neurotunes.transcribe import NOISE_FRAME_SHARE, decode_audio, noise_share

    for name, wav in rendered_music.items():
        audio, rate = decode_audio(wav)
        assert noise_share(audio, rate) < 0.1, name  # measured 0.00
    assert noise_share(tone_melody(), 22_050) < 0.1
    for rate in (8_000, 22_050, 44_100):
        for amplitude in (0.01, 0.8):
            assert noise_share(white_noise(rate=rate, amplitude=amplitude), rate) > NOISE_FRAME_SHARE


def test_noise_is_reported_whether_or_not_notes_are_found():
    from neurotunes.config import TranscribeConfig
    from neurotunes.transcribe import analyze_audio, notes_from_analysis

    analysis = analyze_audio(audio_bytes(white_noise(seconds=3.0, amplitude=0.05)), name="hiss.wav")
    assert [w.split(" (")[0] for w in analysis.warnings] == ["hiss.wav sounds like noise, not music"]
    loose = TranscribeConfig(onset_threshold=0.1, frame_threshold=0.05, minimum_note_length_ms=20)
    score = notes_from_analysis(analysis, loose)
    assert len(score) and "may be meaningless" in score.metadata["warnings"][0]
    with pytest.raises(TranscriptionError, match="no notes found in hiss.wav, which sounds like noise"):
        notes_from_analysis(analysis, TranscribeConfig(onset_threshold=0.99, frame_threshold=0.99))


def test_music_transcribes_without_warnings(rendered_music):
    from neurotunes.transcribe import transcribe_audio

    score = transcribe_audio(rendered_music["piano"], name="scale.wav")
    assert len(score) >= 6 and "warnings" not in score.metadata


# --- 3. zip entries with unsafe paths -----------------------------------------------
def test_zip_entries_with_unsafe_paths_are_kept_out_and_named():
    from neurotunes.dataset import scores_from_files

    midi = good_midi()
    archive = zip_of({"tunes/ok.mid": midi, "../x.mid": midi, "/etc/y.mid": midi, "a/../../z.mid": midi,
                      "..\\win.mid": midi, "C:/boot.mid": midi, ".hidden.mid": midi})
    errors: list[str] = []
    scores = scores_from_files([("set.zip", archive)], errors)
    assert [s.metadata["source"] for s in scores] == ["set.zip/tunes/ok.mid"]
    assert errors == ["set.zip: skipped 5 entries with unsafe paths: ../x.mid, /etc/y.mid, a/../../z.mid, "
                      "..\\win.mid, C:/boot.mid"]


# --- 4. no music21 files left in the temp folder -------------------------------------
def test_notation_uploads_leave_nothing_in_the_temp_folder(tmp_path):
    """Parse MusicXML and ABC uploads (good and broken) in a process whose temp folder is empty at start."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = (
        "from neurotunes.corpus import notation_to_scores, score_to_musicxml\n"
        "from neurotunes.errors import DatasetError\n"
        "from tests.conftest import make_score\n"
        "xml = score_to_musicxml(make_score())\n"
        "abc = b'X:1\\nT:A\\nM:4/4\\nL:1/8\\nK:G\\nGABc dedB|\\n'\n"
        "uploads = [('a.musicxml', xml), ('b.xml', xml), ('t.abc', abc),\n"
        "           ('bad.xml', b'<score-partwise><part'), ('bad.abc', bytes(range(256)))]\n"
        "for name, data in uploads:\n"
        "    try:\n"
        "        print(name, len(notation_to_scores(data, name=name)))\n"
        "    except DatasetError as e:\n"
        "        print(name, 'refused')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(temp), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["a.musicxml", "1", "b.xml", "1", "t.abc", "1", "bad.xml", "refused",
                                   "bad.abc", "refused"]
    left = [str(p.relative_to(temp)) for p in temp.rglob("*") if not p.is_dir()]
    assert left == [], f"left in the temp folder: {left}"


# --- 5. soundfont errors name the file, never the server path ------------------------
def test_soundfont_errors_name_the_file_not_its_folder(tmp_path):
    from neurotunes.render import install_soundfont, render_audio

    folder = tmp_path / "srv" / "private"
    folder.mkdir(parents=True)
    (folder / "random.sf2").write_bytes(np.random.default_rng(0).bytes(2048))
    (folder / "garbage.sf2").write_bytes(b"RIFF\x00\x10\x00\x00sfbk" + np.random.default_rng(1).bytes(4096))
    (folder / "dir.sf2").mkdir()
    piece = make_score(pitches=(60,))
    for name in ("random.sf2", "garbage.sf2", "dir.sf2", "missing.sf2"):
        with pytest.raises(RenderError) as err:
            render_audio(piece, soundfont=folder / name)
        assert name in str(err.value) and str(tmp_path) not in str(err.value), str(err.value)
    with pytest.raises(RenderError) as err:
        install_soundfont(b"RIFF\x00\x10\x00\x00sfbk" + bytes(4096), "mine.sf2", folder)
    assert "mine.sf2" in str(err.value) and str(tmp_path) not in str(err.value), str(err.value)


def test_transcription_errors_never_quote_a_folder():
    from neurotunes.transcribe import _without_folders

    text = "Load model from /srv/app/.venv/lib/site-packages/basic_pitch/model.onnx failed: [Errno 2] '/tmp/x/a.wav'"
    assert _without_folders(text) == "Load model from model.onnx failed: [Errno 2] 'a.wav'"
    assert _without_folders("ratio 3/4 of C:\\Users\\me\\song.wav") == "ratio 3/4 of song.wav"


# --- found on the way: a failed MIDI write leaves nothing ------------------------------
def test_a_failed_midi_write_leaves_no_file(tmp_path, monkeypatch):
    from pathlib import Path

    from neurotunes.midi_io import write_midi

    with pytest.raises(OSError) as err:
        write_midi(make_score(), tmp_path / "missing" / "out.mid")
    assert err.value.filename == str(tmp_path / "missing" / "out.mid")  # the file asked for, not a temp name

    def disk_full(self, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_midi(make_score(), tmp_path / "out.mid")
    assert list(tmp_path.iterdir()) == []
