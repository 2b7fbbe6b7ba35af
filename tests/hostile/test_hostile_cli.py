"""Bad input through ``python -m neurotunes``: one line on stderr, a non-zero exit, nothing half-written.

Each kind of bad input is one test id.  Every case builds its own input in a
fresh folder and runs the CLI there with relative paths (as a user would), so a
message that shows an absolute path can only have leaked it from the server.

Contract for a refused input:

* exit code 2 (3 when a batch partly succeeded),
* stderr is exactly one line (one per refused file of a batch), starting ``neurotunes: error:``, with no traceback
  and no path of this installation (repository, site-packages),
* where an output path was given, nothing was written there, and the run left no
  other new file (a partly written output, a temp file) in its folder either.

Suspect but usable audio (truncated, noise) is transcribed with exactly one
``neurotunes: warning:`` line instead; see :func:`test_suspect_audio_gives_one_warning_line`.
"""

from __future__ import annotations

import json
import re
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tests.hostile.inputs import (
    ERROR_PREFIX,
    WARNING_PREFIX,
    audio_bytes,
    good_midi,
    note,
    npz_bytes,
    rehashed_bundle_zip,
    run_cli,
    server_paths,
    smf,
    tempo,
    tiny_bundle,
    tone_melody,
    white_noise,
    zip_bomb,
    zip_of,
)

pytestmark = pytest.mark.slow

#: A case writes its inputs into the folder and returns (CLI arguments, output that must not appear or None).
Case = Callable[[Path], tuple[list, "Path | None"]]


@dataclass(frozen=True)
class Expect:
    exit_code: int = 2
    lines: int = 1  # error lines: one per refused input (a batch of two broken files gives two)
    says: tuple[str, ...] = ()  # words the message must contain, so it fails for the right reason
    writes: tuple[str, ...] = ()  # the only new paths the run may leave (the good half of a partial batch)


CASES: dict[str, tuple[Case, Expect]] = {}


#: What `transcribe FOLDER` says besides errors: a file done ("[1/2] a.wav -> out/a.mid ..."), the count, the summary.
BATCH_PROGRESS = re.compile(r"^(\[\d+/\d+\] |neurotunes: \d+ audio files|neurotunes: \d+ done)")


def case(kind: str, *says: str, exit_code: int = 2, lines: int = 1, writes: tuple[str, ...] = ()):
    def register(make: Case) -> Case:
        assert kind not in CASES, kind
        CASES[kind] = (make, Expect(exit_code, lines, says, writes))
        return make

    return register


def _write(folder: Path, name: str | bytes, data: bytes) -> Path:
    path = folder / os.fsdecode(name)
    path.write_bytes(data)
    return path


def _sparse(folder: Path, name: str, megabytes: int) -> Path:
    """A file over the upload cap that costs no disk (``truncate -s``)."""
    path = folder / name
    with open(path, "wb") as fh:
        fh.truncate(megabytes * 1024 * 1024)
    return path


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


# --- transcribe ---------------------------------------------------------------
@case("transcribe-empty-wav", "empty.wav", "empty")
def _(d):
    _write(d, "empty.wav", b"")
    return ["transcribe", "empty.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-text-renamed-wav", "notes.wav", "could not be decoded")
def _(d):
    _write(d, "notes.wav", b"these are my notes for the gig, not audio\n" * 40)
    return ["transcribe", "notes.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-png-renamed-flac", "cover.flac")
def _(d):
    _write(d, "cover.flac", PNG)
    return ["transcribe", "cover.flac", "-o", "out.mid"], d / "out.mid"


@case("transcribe-midi-given-as-audio", "song.mid")
def _(d):
    _write(d, "song.mid", good_midi())
    return ["transcribe", "song.mid", "-o", "out.mid"], d / "out.mid"


@case("transcribe-header-only-wav", "cut.wav", "truncated")
def _(d):
    whole = audio_bytes(tone_melody())
    _write(d, "cut.wav", whole[:60])  # the header promises seconds, the file holds a few samples
    return ["transcribe", "cut.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-huge-sparse-wav", "huge.wav", "MB")
def _(d):
    _sparse(d, "huge.wav", 4096)  # 4 GB: refused from its size, never read
    return ["transcribe", "huge.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-silent-wav", "silence.wav", "silent")
def _(d):
    _write(d, "silence.wav", audio_bytes(np.zeros(22_050, dtype=np.float32)))
    return ["transcribe", "silence.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-nan-samples-wav", "nan.wav", "NaN")
def _(d):
    samples = tone_melody()
    samples[100:200] = np.nan
    _write(d, "nan.wav", audio_bytes(samples, subtype="FLOAT"))
    return ["transcribe", "nan.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-too-short-wav", "blip.wav", "ms long")
def _(d):
    _write(d, "blip.wav", audio_bytes(tone_melody()[:200]))
    return ["transcribe", "blip.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-directory-as-file", "folder.wav", "folder")
def _(d):
    (d / "folder.wav").mkdir()
    return ["transcribe", "folder.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-missing-file", "nowhere.wav")
def _(d):
    return ["transcribe", "nowhere.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-non-utf8-file-name", r"caf\xe9-\xff.wav")
def _(d):
    _write(d, b"caf\xe9-\xff.wav", b"not audio" * 50)
    return ["transcribe", b"caf\xe9-\xff.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-newline-in-file-name", r"two\nlines.wav")
def _(d):
    _write(d, "two\nlines.wav", b"")  # Linux allows it; printed raw it would split the one line in two
    return ["transcribe", "two\nlines.wav", "-o", "out.mid"], d / "out.mid"


@case("transcribe-output-folder-missing", "does not exist")
def _(d):
    _write(d, "melody.wav", audio_bytes(tone_melody()))
    return ["transcribe", "melody.wav", "-o", "no/such/folder/out.mid"], d / "no"


@case("transcribe-threshold-out-of-range", "onset_threshold")
def _(d):
    _write(d, "melody.wav", audio_bytes(tone_melody()))
    return ["transcribe", "melody.wav", "--onset-threshold", "5", "-o", "out.mid"], d / "out.mid"


@case("transcribe-max-seconds-nan", "max_seconds")
def _(d):
    _write(d, "melody.wav", audio_bytes(tone_melody()))
    return ["transcribe", "melody.wav", "--max-seconds", "nan", "-o", "out.mid"], d / "out.mid"


@case("transcribe-batch-one-good-one-broken", "broken.ogg", exit_code=3,
      writes=("out", "out/manifest.json", "out/melody.mid"))
def _(d):
    _write(d, "melody.wav", audio_bytes(tone_melody()))
    _write(d, "broken.ogg", b"OggS" + bytes(500))
    return ["transcribe", "melody.wav", "broken.ogg", "-o", "out"], d / "out" / "broken.mid"


@case("transcribe-batch-all-broken", lines=2, writes=("out", "out/manifest.json"))
def _(d):
    _write(d, "a.wav", b"")
    _write(d, "b.wav", b"RIFF")
    return ["transcribe", "a.wav", "b.wav", "-o", "out"], d / "out" / "a.mid"  # the manifest records the failures


# --- render -------------------------------------------------------------------
@case("render-empty-midi", "empty.mid", "empty")
def _(d):
    _write(d, "empty.mid", b"")
    return ["render", "empty.mid", "-o", "out.wav"], d / "out.wav"


@case("render-png-renamed-mid", "picture.mid", "not a MIDI file")
def _(d):
    _write(d, "picture.mid", PNG)
    return ["render", "picture.mid", "-o", "out.wav"], d / "out.wav"


@case("render-truncated-midi", "cut.mid")
def _(d):
    data = good_midi()
    _write(d, "cut.mid", data[: len(data) - 12])
    return ["render", "cut.mid", "-o", "out.wav"], d / "out.wav"


@case("render-track-length-lies", "liar.mid")
def _(d):
    data = bytearray(good_midi())
    data[18:22] = (0x7FFFFFFF).to_bytes(4, "big")  # MTrk says 2 GB follow
    _write(d, "liar.mid", bytes(data))
    return ["render", "liar.mid", "-o", "out.wav"], d / "out.wav"


@case("render-absurd-fast-tempo-midi", "fast.mid", "BPM")
def _(d):
    _write(d, "fast.mid", smf((0, tempo(1)), *note(60), *note(64)))  # 60,000,000 BPM
    return ["render", "fast.mid", "-o", "out.wav"], d / "out.wav"


@case("render-days-long-midi", "forever.mid")
def _(d):
    _write(d, "forever.mid", smf((0, tempo(0xFFFFFF)), *note(60, length=480 * 5000)))  # a 23-hour note
    return ["render", "forever.mid", "-o", "out.wav"], d / "out.wav"


@case("render-pitch-byte-out-of-range", "high.mid", "0..127")
def _(d):
    _write(d, "high.mid", smf((0, b"\x90\xc8\x50"), (480, b"\x80\xc8\x00")))  # pitch 200
    return ["render", "high.mid", "-o", "out.wav"], d / "out.wav"


@case("render-drums-only-midi", "beat.mid", "drum")
def _(d):
    _write(d, "beat.mid", smf(*[e for p in (36, 38, 42, 46) for e in note(p, channel=9)]))
    return ["render", "beat.mid", "-o", "out.wav"], d / "out.wav"


@case("render-zero-notes-midi", "blank.mid", "no notes")
def _(d):
    _write(d, "blank.mid", smf((0, tempo(500_000))))
    return ["render", "blank.mid", "-o", "out.wav"], d / "out.wav"


@case("render-huge-sparse-midi", "huge.mid", "MB")
def _(d):
    path = _sparse(d, "huge.mid", 4096)
    with open(path, "r+b") as fh:
        fh.write(good_midi())
    return ["render", "huge.mid", "-o", "out.wav"], d / "out.wav"


@case("render-midi-is-a-directory", "song.mid", "folder")
def _(d):
    (d / "song.mid").mkdir()
    return ["render", "song.mid", "-o", "out.wav"], d / "out.wav"


@case("render-random-bytes-soundfont", "junk.sf2", "not a SoundFont")
def _(d):
    _write(d, "song.mid", good_midi())
    _write(d, "junk.sf2", np.random.default_rng(1).bytes(4096))
    return ["render", "song.mid", "--soundfont", "junk.sf2", "-o", "out.wav"], d / "out.wav"


@case("render-soundfont-header-then-garbage", "broken.sf2")
def _(d):
    _write(d, "song.mid", good_midi())
    _write(d, "broken.sf2", b"RIFF\x00\x10\x00\x00sfbk" + np.random.default_rng(2).bytes(4096))
    return ["render", "song.mid", "--soundfont", "broken.sf2", "-o", "out.wav"], d / "out.wav"


@case("render-soundfont-missing", "nowhere.sf2")
def _(d):
    _write(d, "song.mid", good_midi())
    return ["render", "song.mid", "--soundfont", "nowhere.sf2", "-o", "out.wav"], d / "out.wav"


@case("render-soundfont-is-a-directory", "fonts.sf2", "folder")
def _(d):
    _write(d, "song.mid", good_midi())
    (d / "fonts.sf2").mkdir()
    return ["render", "song.mid", "--soundfont", "fonts.sf2", "-o", "out.wav"], d / "out.wav"


@case("render-html-in-instrument-name", "instrument")
def _(d):
    _write(d, "song.mid", good_midi())
    return ["render", "song.mid", "--program", "<script>alert(1)</script>", "-o", "out.wav"], d / "out.wav"


@case("render-bpm-nan", "nan")
def _(d):
    _write(d, "song.mid", good_midi())
    return ["render", "song.mid", "--bpm", "nan", "-o", "out.wav"], d / "out.wav"


@case("render-output-in-missing-folder", "does not exist")
def _(d):
    _write(d, "song.mid", good_midi())
    return ["render", "song.mid", "-o", "no/such/folder/out.wav"], d / "no"


@case("render-non-utf8-midi-name", r"\xff\xfe-song.mid")
def _(d):
    _write(d, b"\xff\xfe-song.mid", b"MThd garbage")
    return ["render", b"\xff\xfe-song.mid", "-o", "out.wav"], d / "out.wav"


# --- generate -----------------------------------------------------------------
@case("generate-negative-length", "length")
def _(d):
    return ["generate", "--length", "-5", "-o", "out.mid"], d / "out.mid"


@case("generate-billion-notes", "length")
def _(d):
    return ["generate", "--length", str(10**9), "-o", "out.mid"], d / "out.mid"


@case("generate-temperature-nan", "temperature")
def _(d):
    return ["generate", "--temperature", "nan", "-o", "out.mid"], d / "out.mid"


@case("generate-temperature-inf", "temperature")
def _(d):
    return ["generate", "--temperature", "inf", "-o", "out.mid"], d / "out.mid"


@case("generate-unknown-model-name", "mozart-9000")
def _(d):
    return ["generate", "--model", "mozart-9000", "-o", "out.mid"], d / "out.mid"


@case("generate-output-folder-missing", "no/such/out.mid")
def _(d):
    return ["generate", "--length", "8", "-o", "no/such/out.mid"], d / "no"


@case("generate-primer-is-a-png", "primer.mid")
def _(d):
    _write(d, "primer.mid", PNG)
    return ["generate", "--primer", "primer.mid", "-o", "out.mid"], d / "out.mid"


@case("generate-recipe-tampered-json")
def _(d):
    from neurotunes.midi_io import score_to_midi
    from neurotunes.score import Note, Score

    recipe = {"settings": {"length": "lots", "temperature": [1]}, "model_hash": None, "primer": "<b>x</b>"}
    score = Score(notes=(Note(pitch=60, start=0.0, end=0.5),), metadata={"recipe": recipe})
    _write(d, "recipe.mid", score_to_midi(score))
    return ["generate", "--recipe", "recipe.mid", "-o", "out.mid"], d / "out.mid"


@case("generate-recipe-json-not-an-object")
def _(d):
    from neurotunes.midi_io import score_to_midi
    from neurotunes.score import Note, Score

    score = Score(notes=(Note(pitch=60, start=0.0, end=0.5),), metadata={"recipe": {"settings": [], "model_hash": 7}})
    _write(d, "recipe.mid", score_to_midi(score))
    return ["generate", "--recipe", "recipe.mid", "-o", "out.mid"], d / "out.mid"


@case("bundle-zip-with-a-pickle", "model.pkl")
def _(d):
    files = tiny_bundle().to_files()
    files["model.pkl"] = pickle.dumps({"weights": [1, 2, 3]})
    _write(d, "evil.zip", rehashed_bundle_zip(files))
    return ["generate", "--model", "evil.zip", "-o", "out.mid"], d / "out.mid"


@case("bundle-weights-object-array", "objects.zip")
def _(d):
    files = tiny_bundle().to_files()
    files["weights.npz"] = npz_bytes(w000=np.array([{"a": 1}, None], dtype=object))
    _write(d, "objects.zip", rehashed_bundle_zip(files))
    return ["generate", "--model", "objects.zip", "-o", "out.mid"], d / "out.mid"


@case("bundle-nan-weights", "nan.zip", "NaN")
def _(d):
    _write(d, "nan.zip", tiny_bundle(fill=float("nan")).to_zip())
    return ["generate", "--model", "nan.zip", "--length", "20", "-o", "out.mid"], d / "out.mid"


@case("bundle-tampered-hash", "tampered.zip", "modified")
def _(d):
    files = tiny_bundle().to_files()
    config = json.loads(files["config.json"])
    config["info"]["name"] = "tampered"
    files["config.json"] = json.dumps(config).encode()
    _write(d, "tampered.zip", zip_of(files))  # bundle.json keeps the old hash
    return ["generate", "--model", "tampered.zip", "-o", "out.mid"], d / "out.mid"


@case("bundle-wrong-weight-shapes", "shapes.zip")
def _(d):
    bundle = tiny_bundle()
    files = bundle.to_files()
    files["weights.npz"] = npz_bytes(**{f"w{i:03d}": np.zeros((3, 3), np.float32)
                                        for i in range(len(bundle.weights))})
    _write(d, "shapes.zip", rehashed_bundle_zip(files))
    return ["generate", "--model", "shapes.zip", "-o", "out.mid"], d / "out.mid"


@case("bundle-huge-sparse-zip", "huge.zip", "200 MB")
def _(d):
    _sparse(d, "huge.zip", 300)
    return ["generate", "--model", "huge.zip", "-o", "out.mid"], d / "out.mid"


@case("bundle-not-a-zip", "model.zip")
def _(d):
    _write(d, "model.zip", b"this is a text file with a .zip name")
    return ["generate", "--model", "model.zip", "-o", "out.mid"], d / "out.mid"


@case("bundle-folder-missing-files", "half-model", "missing")
def _(d):
    folder = d / "half-model"
    folder.mkdir()
    (folder / "bundle.json").write_bytes(tiny_bundle().to_files()["bundle.json"])
    return ["generate", "--model", "half-model", "-o", "out.mid"], d / "out.mid"


# --- evaluate: reference music files ------------------------------------------
@case("reference-malformed-musicxml", "broken.musicxml")
def _(d):
    _write(d, "broken.musicxml", b"<?xml version='1.0'?><score-partwise><part id='P1'><measure>")
    return ["evaluate", "--reference", "broken.musicxml", "--samples", "1"], None


@case("reference-garbage-abc", "noise.abc")
def _(d):
    _write(d, "noise.abc", np.random.default_rng(3).bytes(2000))
    return ["evaluate", "--reference", "noise.abc", "--samples", "1"], None


@case("reference-zip-bomb", "bomb.zip", "200 MB")
def _(d):
    _write(d, "bomb.zip", zip_bomb(210))
    return ["evaluate", "--reference", "bomb.zip", "--samples", "1"], None


@case("reference-zip-path-traversal", "unsafe", "../escape.mid", "/etc/cron.mid", "a/../../up.mid")
def _(d):
    _write(d, "sneaky.zip", zip_of({"../escape.mid": good_midi(), "/etc/cron.mid": good_midi(),
                                    "a/../../up.mid": good_midi()}))
    return ["evaluate", "--reference", "sneaky.zip", "--samples", "1"], None


@case("reference-zip-entry-name-with-newline", r"bad\nname.mid")
def _(d):
    _write(d, "odd.zip", zip_of({"bad\nname.mid": b"MThd\x00"}))
    return ["evaluate", "--reference", "odd.zip", "--samples", "1"], None


@case("reference-zip-huge-entry", "big.mid", "MB")
def _(d):
    _write(d, "big.zip", zip_of({"big.mid": bytes(60 * 1024 * 1024)}))  # under the archive cap, over the file cap
    return ["evaluate", "--reference", "big.zip", "--samples", "1"], None


@case("reference-zip-many-files", "many.zip", "2,001")
def _(d):
    _write(d, "many.zip", zip_of({f"f{i}.mid": b"" for i in range(2001)}, compression=0))
    return ["evaluate", "--reference", "many.zip", "--samples", "1"], None


@case("reference-zip-nested-zips", "inner.zip", "deeper/more.zip")
def _(d):
    inner = zip_of({"tune.mid": good_midi()})
    _write(d, "outer.zip", zip_of({"inner.zip": inner, "deeper/more.zip": zip_of({"x.zip": inner})}))
    return ["evaluate", "--reference", "outer.zip", "--samples", "1"], None


@case("reference-not-a-zip", "fake.zip", "not a valid .zip")
def _(d):
    _write(d, "fake.zip", PNG)
    return ["evaluate", "--reference", "fake.zip", "--samples", "1"], None


@case("reference-unsupported-file", "score.pdf", "unsupported")
def _(d):
    _write(d, "score.pdf", b"%PDF-1.4 not music")
    return ["evaluate", "--reference", "score.pdf", "--samples", "1"], None


@case("reference-non-utf8-name", r"\xe9t\xe9.abc")
def _(d):
    _write(d, b"\xe9t\xe9.abc", b"\x00\x01\x02")
    return ["evaluate", "--reference", b"\xe9t\xe9.abc", "--samples", "1"], None


@case("reference-folder-of-empty-files", "a.mid", "b.xml", "c.abc")
def _(d):
    folder = d / "refs"
    folder.mkdir()
    for name in ("a.mid", "b.xml", "c.abc"):
        (folder / name).write_bytes(b"")
    return ["evaluate", "--reference", "refs", "--samples", "1"], None


@case("evaluate-negative-samples", "samples")
def _(d):
    return ["evaluate", "--samples", "-3"], None


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bad_input_is_refused_in_one_line(kind, tmp_path):
    make, expect = CASES[kind]
    args, output = make(tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    proc = run_cli(*args, cwd=tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in set(tmp_path.rglob("*")) - before)
    stderr = proc.stderr.decode(errors="replace")
    # A batch's progress (a file done, how many, the summary) is not an error line; each bad input is one.
    lines = [line for line in stderr.strip().splitlines() if not BATCH_PROGRESS.match(line)]
    assert proc.returncode == expect.exit_code, f"exit {proc.returncode}, stderr: {stderr[-3000:]}"
    assert len(lines) == expect.lines and all(line.startswith(ERROR_PREFIX) for line in lines), stderr[-3000:]
    assert "Traceback" not in stderr and "unexpected" not in stderr
    for word in expect.says:
        assert word in stderr, f"{word!r} not in {stderr!r}"
    for path in server_paths():
        assert path not in stderr, f"{path} leaked: {stderr}"
    if output is not None:
        assert not output.exists(), f"{output.name} was left behind"
    assert left == sorted(expect.writes), f"the run left {left}"  # no output, partial or temp file


def test_the_kinds_cover_at_least_thirty_inputs():
    assert len(CASES) + len(SUSPECT_AUDIO) >= 30


def test_the_good_bundle_the_bad_ones_are_made_from_works(tmp_path):
    """Control: the tiny bundle generates, so each bundle case fails for its own defect only."""
    _write(tmp_path, "good.zip", tiny_bundle().to_zip())
    proc = run_cli("generate", "--model", "good.zip", "--length", "12", "-o", "out.mid", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stderr == b"" and (tmp_path / "out.mid").exists()


def test_unreadable_file_is_refused_in_one_line(tmp_path):
    """chmod 000 blocks reading, except for root, which reads anything: then the case cannot be made."""
    path = _write(tmp_path, "locked.wav", audio_bytes(tone_melody()))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop root from reading, so this case cannot be made")
        proc = run_cli("transcribe", "locked.wav", "-o", "out.mid", cwd=tmp_path)
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(ERROR_PREFIX)
        assert "locked.wav" in lines[0] and not (tmp_path / "out.mid").exists()
    finally:
        path.chmod(0o600)


# --- suspect audio: transcribed, with one warning line -------------------------
def _truncated(fmt: str) -> bytes:
    whole = audio_bytes(np.concatenate([tone_melody(), tone_melody()]), fmt=fmt)
    return whole[: len(whole) // 2]


SUSPECT_AUDIO = {
    "truncated-wav": ("cut.wav", lambda: _truncated("WAV"), "truncated"),
    "truncated-flac": ("cut.flac", lambda: _truncated("FLAC"), "truncated"),
    "truncated-mp3": ("cut.mp3", lambda: _truncated("MP3"), "truncated"),  # libmpg123 also prints per bad frame
    "white-noise-wav": ("hiss.wav", lambda: audio_bytes(white_noise()), "noise"),
}


@pytest.mark.parametrize("kind", sorted(SUSPECT_AUDIO))
def test_suspect_audio_gives_one_warning_line(kind, tmp_path):
    """Usable but suspect audio is transcribed (exit 0) with exactly one warning line naming the file."""
    name, make, word = SUSPECT_AUDIO[kind]
    _write(tmp_path, name, make())
    proc = run_cli("transcribe", name, "-o", "out.mid", cwd=tmp_path)
    stderr = proc.stderr.decode(errors="replace")
    lines = stderr.strip().splitlines()
    if proc.returncode == 2:  # noise in which Basic Pitch finds no note at all: refused, still in one line
        assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX) and word in lines[0], stderr
        return
    assert proc.returncode == 0, stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(WARNING_PREFIX), stderr[-3000:]
    assert name in lines[0] and word in lines[0]
    assert (tmp_path / "out.mid").exists()
