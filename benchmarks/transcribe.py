"""Transcription speed: NeuroTunes vs Basic Pitch's own CLI, and Basic Pitch backends, in one run.

    .venv/bin/python -m benchmarks.transcribe [--seconds 40] [--repeats 2]

1. Renders a Bach chorale excerpt of ``--seconds`` with FluidSynth to MP3.
2. Cold CLI: ``python -m neurotunes transcribe clip.mp3 -o x.mid`` against
   ``basic-pitch OUTDIR clip.mp3`` (both in fresh processes, best of ``--repeats``).
3. Warm, in process: each Basic Pitch backend that loads here (TFLite,
   TensorFlow SavedModel, ONNX if onnxruntime is installed): load time and
   real-time factor of a second transcription.
4. The app's path: a second ``transcribe_audio`` call in a warm process.

Prints the timings and the ratios (target: CLI ratio <= 1.0, app <= 0.05 x real time).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neurotunes.corpus import load_corpus  # noqa: E402
from neurotunes.render import score_to_mp3  # noqa: E402


def make_clip(seconds: float, folder: Path) -> Path:
    notes = []
    for piece in load_corpus("bach", limit=12):
        offset = max((n.end for n in notes), default=0.0)
        notes += [n for n in piece.shifted(offset).notes if n.end <= seconds]
        if offset >= seconds:
            break
    clip = piece.with_notes(notes)
    path = folder / "clip.mp3"
    path.write_bytes(score_to_mp3(clip))
    return path


def best_time(cmd: list[str], repeats: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.decode()[-2000:]}")
    return min(times)


def backends(audio_path: Path, seconds: float) -> list[tuple[str, float, float]]:
    import tensorflow  # noqa: F401  - loaded first, so basic_pitch sees it and the SavedModel can be compared

    from neurotunes.transcribe import _import_basic_pitch

    basic_pitch = _import_basic_pitch()
    from basic_pitch.inference import Model, run_inference

    rows = []
    for label, suffix in (("TFLite", "tflite"), ("TensorFlow SavedModel", "tf"), ("ONNX", "onnx")):
        path = basic_pitch.build_icassp_2022_model_path(basic_pitch.FilenameSuffix[suffix])
        if label == "ONNX" and not basic_pitch.ONNX_PRESENT:
            rows.append((label + " (onnxruntime not installed)", float("nan"), float("nan")))
            continue
        start = time.perf_counter()
        try:
            model = Model(path)
        except Exception as exc:  # a backend that does not load here is reported, not fatal
            rows.append((f"{label} (failed: {type(exc).__name__})", float("nan"), float("nan")))
            continue
        load = time.perf_counter() - start
        run_inference(audio_path, model)  # warm-up
        start = time.perf_counter()
        run_inference(audio_path, model)
        rows.append((label, load, (time.perf_counter() - start) / seconds))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_clip(args.seconds, folder)
        import soundfile as sf

        seconds = sf.info(str(clip)).duration
        print(f"clip: {seconds:.1f} s Bach chorales rendered to MP3")

        basic_pitch_cli = str(Path(sys.executable).with_name("basic-pitch"))
        ours = best_time([sys.executable, "-m", "neurotunes", "transcribe", str(clip), "-o", str(folder / "ours.mid")],
                         args.repeats, env)
        (folder / "bp").mkdir()
        theirs = best_time([basic_pitch_cli, "--save-midi", str(folder / "bp"), str(clip)], 1, env)
        for _ in range(args.repeats - 1):
            for f in (folder / "bp").iterdir():
                f.unlink()
            theirs = min(theirs, best_time([basic_pitch_cli, "--save-midi", str(folder / "bp"), str(clip)], 1, env))
        print(f"cold CLI  neurotunes transcribe: {ours:6.2f} s   basic-pitch: {theirs:6.2f} s   "
              f"ratio {ours / theirs:.2f} (target <= 1.00)")

        print("warm, in process (load s, x real time of a second run):")
        for label, load, rtf in backends(clip, seconds):
            print(f"  {label:38s} load {load:6.2f} s   {rtf:.4f} x real time")

        from neurotunes.transcribe import default_backend, transcribe_audio

        data = clip.read_bytes()
        transcribe_audio(data, name="clip.mp3")
        start = time.perf_counter()
        score = transcribe_audio(data, name="clip.mp3")
        rtf = (time.perf_counter() - start) / seconds
        print(f"app path ({default_backend()}), second transcription: {rtf:.4f} x real time "
              f"({len(score)} notes; target <= 0.05)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
