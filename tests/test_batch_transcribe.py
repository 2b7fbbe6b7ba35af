"""Batch transcription: folders, a worker pool, and a manifest that makes a rerun resume (real Basic Pitch)."""

import json
import re

import numpy as np
import pytest
import soundfile as sf

from neurotunes.batch_transcribe import MANIFEST_NAME, collect_inputs, transcribe_folder
from neurotunes.errors import NeuroTunesError
from neurotunes.midi_io import read_midi
from neurotunes.transcribe import load_basic_pitch
from tests.test_cli import assert_one_line_error, run

pytestmark = pytest.mark.slow

RATE = 22_050


def tones(*pitches: int, seconds: float = 1.0) -> np.ndarray:
    """Sine tones, one after another, ``seconds`` in all, with short fades (no clicks, clean onsets)."""
    t = np.arange(int(RATE * seconds / len(pitches))) / RATE
    fade = np.minimum(1.0, np.minimum(t / 0.01, (t[-1] - t) / 0.02))
    return np.concatenate([0.5 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * fade for p in pitches])


def write_wav(path, *pitches: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tones(*pitches).astype(np.float32), RATE)


def pitches(path) -> list[int]:
    return [n.pitch for n in read_midi(path).notes]


def manifest(out) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text())["files"]


def test_a_folder_with_workers_mirrors_paths_lists_garbage_and_a_rerun_resumes(tmp_path):
    src, out = tmp_path / "music", tmp_path / "midi"
    write_wav(src / "a" / "song.wav", 60, 67)
    write_wav(src / "b" / "song.wav", 64, 72)  # same name, other folder, other notes
    write_wav(src / "b" / "again.wav", 60, 67)  # the same bytes as a/song.wav
    (src / "b" / "garbage.wav").write_bytes(b"this is not a wave file" * 20)
    (src / "b" / "notes.txt").write_text("not audio: never picked up")

    proc = run("transcribe", src, "-o", out, "--workers", "2")
    assert proc.returncode == 3, proc.stderr  # some failed, the others were written
    assert "Traceback" not in proc.stderr
    assert pitches(out / "a" / "song.mid") == [60, 67]
    assert pitches(out / "b" / "song.mid") == [64, 72]
    assert (out / "b" / "again.mid").read_bytes() == (out / "a" / "song.mid").read_bytes()
    first = manifest(out)
    assert sorted(first) == ["a/song.wav", "b/again.wav", "b/garbage.wav", "b/song.wav"]
    a, b, again, garbage = (first[k] for k in ("a/song.wav", "b/song.wav", "b/again.wav", "b/garbage.wav"))
    assert (a["status"], a["midi"], a["notes"], a["seconds"], a["duplicate_of"]) == ("ok", "a/song.mid", 2, 1.0, None)
    assert (b["status"], b["midi"], b["notes"]) == ("ok", "b/song.mid", 2)
    assert a["sha256"] != b["sha256"] and again["sha256"] == a["sha256"]
    # The same content is transcribed once: the twin is a copy, and two results came from the model.
    assert (again["status"], again["midi"], again["duplicate_of"], again["notes"]) == ("ok", "b/again.mid",
                                                                                      "a/song.wav", 2)
    assert garbage["status"] == "error" and garbage["midi"] is None and garbage["notes"] == 0
    assert garbage["error"].startswith("b/garbage.wav could not be decoded as audio")
    assert garbage["sha256"] and garbage["settings"] == a["settings"]
    err = proc.stderr.splitlines()
    assert err[0] == "neurotunes: 4 audio files; transcribing 4 with 2 workers"
    assert sorted(re.search(r"\[\d/4\]", line).group(0) for line in err[1:5]) == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert f"neurotunes: error: [" in proc.stderr and f"] {garbage['error']}" in proc.stderr
    assert sum(" -> " in line and "notes)" in line for line in err) == 2
    assert f"again.wav -> {out / 'b' / 'again.mid'} (2 notes, same content as a/song.wav)" in proc.stderr
    assert err[-1] == (f"neurotunes: 3 done (1 copied from a file with the same content), 0 skipped (already done), "
                       f"1 failed of 4 files; manifest {out / MANIFEST_NAME}")
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.mid")}
    assert len(written) == 3

    # A rerun skips the three done files (entries and MIDI untouched) and tries the failed one again.
    proc = run("transcribe", src, "-o", out, "--workers", "2")
    assert proc.returncode == 3, proc.stderr
    err = proc.stderr.splitlines()
    assert err[0] == "neurotunes: 4 audio files, 3 already done (skipped); transcribing 1"
    assert err[1] == f"neurotunes: error: [1/1] {garbage['error']}"
    assert err[-1].startswith("neurotunes: 0 done, 3 skipped (already done), 1 failed of 4 files")
    second = manifest(out)
    assert {k: second[k] for k in ("a/song.wav", "b/song.wav", "b/again.wav")} == \
        {k: first[k] for k in ("a/song.wav", "b/song.wav", "b/again.wav")}
    assert second["b/garbage.wav"]["status"] == "error"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mid")} == written

    # Mend the bad file and lose one MIDI: only those two are done; exit 0.
    write_wav(src / "b" / "garbage.wav", 62, 69)
    (out / "b" / "song.mid").unlink()
    proc = run("transcribe", src, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == "neurotunes: 4 audio files, 2 already done (skipped); transcribing 2"
    third = manifest(out)
    assert (third["b/garbage.wav"]["status"], third["b/garbage.wav"]["error"]) == ("ok", None)
    assert pitches(out / "b" / "garbage.mid") == [62, 69] and pitches(out / "b" / "song.mid") == [64, 72]
    assert third["a/song.wav"] == first["a/song.wav"]


def test_every_file_failing_exits_with_the_bad_input_code(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "empty.mp3").write_bytes(b"")
    (src / "noise.flac").write_bytes(b"a text file with an audio suffix\n" * 40)
    proc = run("transcribe", src, "-o", out, "--workers", "2")
    assert proc.returncode == 2, proc.stderr
    entries = manifest(out)
    assert entries["empty.mp3"]["status"] == entries["noise.flac"]["status"] == "error"
    assert entries["empty.mp3"]["error"] == "empty.mp3 is empty (0 bytes)"
    assert "noise.flac could not be decoded" in entries["noise.flac"]["error"]
    assert proc.stderr.splitlines()[-1].startswith("neurotunes: 0 done, 0 skipped (already done), 2 failed of 2 files")
    # A folder without audio, and an output that is a file: one line, nothing transcribed.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "read.txt").write_text("x")
    assert_one_line_error(run("transcribe", tmp_path / "docs", "-o", out))
    (tmp_path / "file.mid").write_bytes(b"x")
    proc = run("transcribe", src, "-o", tmp_path / "file.mid")
    assert_one_line_error(proc)
    assert "-o must be a folder" in proc.stderr


def test_in_process_batch_loads_the_model_once_and_copies_twins(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_wav(src / "one.wav", 60, 67)
    write_wav(src / "two.wav", 64, 72)
    (src / "twin.wav").write_bytes((src / "one.wav").read_bytes())
    load_basic_pitch.cache_clear()
    seen = []
    report = transcribe_folder([src], out, workers=1,
                               on_result=lambda result, done, total: seen.append((result.path, done, total)))
    assert load_basic_pitch.cache_info().misses == 1 and load_basic_pitch.cache_info().hits >= 1
    assert (report.total, report.done, report.duplicates, report.failed, report.skipped) == (3, 3, 1, 0, [])
    assert sorted(seen) == [("one.wav", 1, 3), ("twin.wav", 2, 3), ("two.wav", 3, 3)]
    assert [r.duplicate_of for r in report.results if r.path == "twin.wav"] == ["one.wav"]
    assert pitches(out / "two.mid") == [64, 72]
    again = transcribe_folder([src], out, workers=1)
    assert (again.done, again.skipped) == (0, ["one.wav", "twin.wav", "two.wav"])


def test_names_never_collide(tmp_path):
    for rel in ("x/take.wav", "y/take.wav", "x/take.mp3", "x/.hidden.wav", "x/.git/inside.wav", "z/cover.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    found = {str(i.rel): str(i.midi) for i in collect_inputs([tmp_path / "x"])}
    assert found == {"take.mp3": "take.mp3.mid", "take.wav": "take.wav.mid"}
    found = {str(i.rel): str(i.midi) for i in collect_inputs([tmp_path / "x", tmp_path / "y"])}
    assert found == {"x/take.mp3": "x/take.mp3.mid", "x/take.wav": "x/take.wav.mid", "y/take.wav": "y/take.mid"}
    # Loose files of the same name keep their folders; one named twice (also through its folder) is one input.
    found = {str(i.rel): str(i.midi) for i in collect_inputs([tmp_path / "x" / "take.wav", tmp_path / "y" / "take.wav",
                                                              tmp_path / "y"])}
    assert found == {"x/take.wav": "x/take.mid", "y/take.wav": "y/take.mid"}
    with pytest.raises(NeuroTunesError, match="no audio files"):
        collect_inputs([tmp_path / "z"])
