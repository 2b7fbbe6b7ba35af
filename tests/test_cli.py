"""The CLI as a user runs it: real subprocesses, real files."""

import os
import subprocess
import sys

import pytest
import soundfile as sf

from neurotunes.midi_io import read_midi, write_midi
from tests.conftest import ROOT, make_score

pytestmark = pytest.mark.slow


def run(*args, cwd=None):
    # CI=1 as on the CI machine, where pyfluidsynth prints to stdout on import
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "1"}
    return subprocess.run(
        [sys.executable, "-m", "neurotunes", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=600,
    )


def assert_one_line_error(proc):
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert err and err[-1].startswith("neurotunes: error:")


def test_generate_default_then_render(tmp_path):
    mid, wav, mp3 = tmp_path / "x.mid", tmp_path / "x.wav", tmp_path / "x.mp3"
    proc = run("generate", "--model", "default", "--length", "60", "--seed", "3", "-o", mid)
    assert proc.returncode == 0, proc.stderr
    score = read_midi(mid)
    assert len(score) == 60
    assert score.metadata["recipe"]["settings"]["seed"] == 3
    assert score.metadata["recipe"]["settings"]["pitch_top_p"] == 0.95  # the model's suggestion, not given
    plain = tmp_path / "plain.mid"
    assert run("generate", "--length", "20", "--pitch-top-p", "1.0", "-o", plain).returncode == 0
    assert read_midi(plain).metadata["recipe"]["settings"]["pitch_top_p"] == 1.0  # what the user gives stands
    assert "default: the model's suggestion, else 1.0" in " ".join(run("generate", "--help").stdout.split())
    proc = run("render", mid, "-o", wav)
    assert proc.returncode == 0, proc.stderr
    audio, rate = sf.read(wav)
    assert rate == 44100
    assert audio.shape[0] / rate >= score.duration
    assert abs(audio).max() > 0.1  # audible
    assert run("render", mid, "-o", mp3, "--program", "40", "--bpm", "80").returncode == 0
    proc = run("render", mid, "-o", tmp_path / "organ.wav", "--instrument", "0=Church Organ", "--chorus", "--no-reverb")
    assert proc.returncode == 0, proc.stderr
    organ, _ = sf.read(tmp_path / "organ.wav")
    assert organ.shape != audio.shape or abs(organ - audio).mean() > 0.01  # another instrument, not the piano
    # The recipe inside the MIDI regenerates the identical notes.
    proc = run("generate", "--recipe", mid, "-o", tmp_path / "again.mid")
    assert proc.returncode == 0, proc.stderr
    again = read_midi(tmp_path / "again.mid")
    assert [(n.pitch, n.start, n.end) for n in again.notes] == [(n.pitch, n.start, n.end) for n in score.notes]
    assert sf.info(mp3).duration > score.duration


def test_transcribe_writes_the_notes(tmp_path):
    from neurotunes.render import score_to_wav

    melody = make_score(pitches=(60, 64, 67, 72), step=0.5, dur=0.45)
    (tmp_path / "melody.wav").write_bytes(score_to_wav(melody))
    (tmp_path / "broken.mp3").write_bytes(b"not audio at all")
    proc = run("transcribe", tmp_path / "melody.wav", "-o", tmp_path / "melody.mid")
    assert proc.returncode == 0, proc.stderr
    assert [n.pitch for n in read_midi(tmp_path / "melody.mid").notes][:4] == [60, 64, 67, 72]
    # Presets and clean-up flags reach the transcription.
    proc = run("transcribe", tmp_path / "melody.wav", "--preset", "melody", "--quantize", "1/8", "--grid-tempo", "120",
               "--onset-threshold", "0.4", "-o", tmp_path / "clean.mid")
    assert proc.returncode == 0, proc.stderr
    clean = read_midi(tmp_path / "clean.mid")
    assert clean.metadata["transcription"]["onset_threshold"] == 0.4
    assert clean.metadata["postprocess"]["monophonic"] is True
    assert all(abs(n.start / 0.25 - round(n.start / 0.25)) < 1e-6 for n in clean.notes)  # 1/8 at 120 BPM
    # A batch with one bad file: the good one is still written, exit code says "partly failed".
    proc = run("transcribe", tmp_path / "melody.wav", tmp_path / "broken.mp3", "-o", tmp_path / "out")
    assert proc.returncode == 3
    assert (tmp_path / "out" / "melody.mid").exists()
    assert "broken.mp3" in proc.stderr and "Traceback" not in proc.stderr


def test_train_tiny_from_midi_folder_then_generate(tmp_path):
    folder = tmp_path / "midis"
    folder.mkdir()
    for k in range(1, 5):
        write_midi(make_score(pitches=tuple(55 + (i * k) % 12 for i in range(40)), step=0.25, dur=0.25), folder / f"p{k}.mid")
    (folder / "junk.mid").write_bytes(b"garbage")
    proc = run("train", "--midi", folder, "--epochs", "1", "--units", "16", "--layers", "1", "--sequence-length", "16",
               "--batch-size", "4", "-o", tmp_path / "model")
    assert proc.returncode == 0, proc.stderr
    assert "skipping junk.mid" in proc.stderr
    proc = run("generate", "--model", tmp_path / "model", "--length", "12", "-o", tmp_path / "g.mid")
    assert proc.returncode == 0, proc.stderr
    assert len(read_midi(tmp_path / "g.mid")) == 12
    # Resume that model on ABC tunes with a schedule and per-epoch checkpoints.
    abc = tmp_path / "tunes.abc"
    abc.write_bytes(b"X:1\nT:A\nM:4/4\nL:1/8\nK:G\n" + b"GABc dedB|dedB dedB|c2ec B2dB|" * 6 + b"\n")
    proc = run("train", "--files", abc, folder / "p1.mid", "--resume", tmp_path / "model", "--epochs", "2",
               "--lr-schedule", "cosine", "--sequence-length", "16", "--batch-size", "4", "--validation", "0",
               "--checkpoint-dir", tmp_path / "ckpt", "-o", tmp_path / "model2")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["epoch-002", "epoch-003"]
    from neurotunes.bundle import load_bundle

    first, second = load_bundle(tmp_path / "model"), load_bundle(tmp_path / "model2")
    assert second.info.resumed_from == first.hash
    assert second.model == first.model


def test_train_a_frame_encoded_model_on_an_eighth_grid_then_generate(tmp_path):
    folder = tmp_path / "midis"
    folder.mkdir()
    for k in range(1, 4):
        write_midi(make_score(pitches=tuple(55 + (i * k) % 12 for i in range(40)), step=0.5, dur=0.5), folder / f"p{k}.mid")
    proc = run("train", "--midi", folder, "--encoding", "frame", "--grid", "2", "--epochs", "1", "--units", "16",
               "--layers", "1", "--sequence-length", "16", "--batch-size", "4", "-o", tmp_path / "model")
    assert proc.returncode == 0, proc.stderr
    from neurotunes.bundle import load_bundle

    bundle = load_bundle(tmp_path / "model")
    assert (bundle.encoding.name, bundle.encoding.steps_per_quarter) == ("frame", 2)
    proc = run("generate", "--model", tmp_path / "model", "--length", "12", "-o", tmp_path / "g.mid")
    assert proc.returncode == 0, proc.stderr
    assert len(read_midi(tmp_path / "g.mid")) == 12


@pytest.mark.parametrize(
    "args",
    [
        ("generate", "--model", "/no/such/model", "-o", "x.mid"),
        ("generate", "--length", "0", "-o", "x.mid"),
        ("generate", "--top-p", "0", "-o", "x.mid"),
        ("generate", "--pitch-low", "0", "--pitch-high", "5", "-o", "x.mid"),
        ("generate", "--recipe", "good.mid", "-o", "x.mid"),
        ("generate", "--variations", "50", "-o", "x.mid"),
        ("render", "missing.mid", "-o", "x.wav"),
        ("render", "bad.mid", "-o", "x.wav"),
        ("render", "good.mid", "-o", "x.ogg"),
        ("render", "good.mid", "-o", "x.wav", "--program", "Kazoo"),
        ("render", "good.mid", "-o", "x.wav", "--instrument", "Violin"),
        ("render", "good.mid", "-o", "x.wav", "--soundfont", "junk.sf2"),
        ("transcribe", "bad.mid", "-o", "x.mid"),
        ("transcribe", "empty.wav", "-o", "x.mid"),
        ("train", "--midi", "nowhere", "-o", "m"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, args):
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00\x00")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.sf2").write_bytes(b"RIFF\x00\x00\x00\x00sfbk" + b"\x00" * 64)
    write_midi(make_score(), tmp_path / "good.mid")
    assert_one_line_error(run(*args, cwd=tmp_path))


def test_evaluate_prints_metrics_as_json(tmp_path, tiny_bundle):
    import json

    _, bundle_path = tiny_bundle
    refs = tmp_path / "refs"
    refs.mkdir()
    for k in range(3):
        write_midi(make_score(pitches=tuple(60 + (i * k) % 12 for i in range(24)), step=0.25, dur=0.25),
                   refs / f"piece{k}.mid")
    (refs / "broken.mid").write_bytes(b"MThd\x00\x00")
    proc = run("evaluate", "--model", bundle_path, "--reference", refs, "--samples", "2", "--notes", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "broken.mid" in proc.stderr  # a bad reference file is named and skipped
    report = json.loads(proc.stdout)
    assert report["reference"]["pieces"] == 3
    model = report["models"][0]
    assert model["samples"] == 2 and model["error"] is None
    assert set(model["distributions"]) == {"pitch_class_histogram", "pitch_range", "interval_histogram",
                                           "ioi_histogram", "note_density", "polyphony", "in_scale_ratio",
                                           "on_grid_ratio"}
    assert model["model"]["nll_per_note"] > 0
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("--samples", "0"), ("--samples", "10000"), ("--reference", tmp_path / "nowhere"),
                 ("--reference", empty)):
        assert_one_line_error(run("evaluate", "--model", bundle_path, "--reference", refs, *args))


def test_the_neurotunes_command_is_the_same_program(tmp_path):
    """pyproject.toml's console script, installed by the set-up: `neurotunes ...` = `python -m neurotunes ...`."""
    command = os.path.join(os.path.dirname(sys.executable), "neurotunes")
    assert os.path.exists(command), "bash run.sh installs this checkout (pip install -e .)"
    env = {**os.environ, "CI": "1"}
    shown = subprocess.run([command, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: neurotunes ")
    made = subprocess.run([command, "generate", "--length", "12", "--seed", "3", "-o", str(tmp_path / "a.mid")],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert run("generate", "--length", "12", "--seed", "3", "-o", tmp_path / "b.mid").returncode == 0
    assert read_midi(tmp_path / "a.mid").notes == read_midi(tmp_path / "b.mid").notes
