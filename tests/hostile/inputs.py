"""Hostile inputs, each made by the test itself: bytes, not fixtures from disk.

Audio is synthesized with NumPy (no FluidSynth), MIDI is written byte by byte
where a library would refuse to write it, and model bundles are tiny
(1 x LSTM 8) with weights of the right shapes, so no case needs TensorFlow.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from tests.conftest import ROOT

#: What a failing command may write to stderr: one line that starts with this.
ERROR_PREFIX = "neurotunes: error:"
WARNING_PREFIX = "neurotunes: warning:"
#: Every CLI run gets this long; a hostile input must never make a command hang.
RUN_TIMEOUT_S = 120


def run_cli(*args: str | bytes | Path, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m neurotunes ARGS`` as a user runs it (CI=1, as on the CI machine)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "1"}
    argv = [sys.executable, "-m", "neurotunes", *(a if isinstance(a, bytes) else str(a) for a in args)]
    return subprocess.run(argv, capture_output=True, cwd=cwd, env=env, timeout=RUN_TIMEOUT_S)


def server_paths() -> list[str]:
    """Absolute paths of this installation that must never reach a user's screen."""
    import sysconfig

    return [str(ROOT), sysconfig.get_paths()["purelib"], "site-packages"]


# --- audio -------------------------------------------------------------------
RATE = 22_050


def tone_melody(pitches=(60, 64, 67, 72, 67, 64), step=0.4, rate=RATE) -> np.ndarray:
    """A plucked, harmonic-rich melody (music-like for Basic Pitch, no FluidSynth needed)."""
    out = np.zeros(int(rate * step * (len(pitches) + 1)), dtype=np.float64)
    t = np.arange(int(rate * step)) / rate
    for i, p in enumerate(pitches):
        f0 = 440.0 * 2 ** ((p - 69) / 12)
        note = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.exp(-3.0 * t)
        start = int(i * step * rate)
        out[start : start + len(t)] += note
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def white_noise(seconds=2.0, amplitude=0.5, rate=RATE, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-amplitude, amplitude, int(rate * seconds)).astype(np.float32)


def audio_bytes(samples: np.ndarray, fmt: str = "WAV", rate: int = RATE, subtype: str | None = None) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


# --- MIDI --------------------------------------------------------------------
def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def smf(*events: tuple[int, bytes], division: int = 480) -> bytes:
    """A type-0 Standard MIDI File from ``(delta_ticks, message bytes)`` pairs, written byte by byte."""
    track = b"".join(_varlen(delta) + message for delta, message in events) + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, division) + b"MTrk" + struct.pack(">I", len(track)) + track


def tempo(us_per_quarter: int) -> bytes:
    return b"\xff\x51\x03" + us_per_quarter.to_bytes(3, "big")


def note(pitch: int, channel: int = 0, length: int = 480, velocity: int = 90) -> list[tuple[int, bytes]]:
    return [(0, bytes([0x90 | channel, pitch, velocity])), (length, bytes([0x80 | channel, pitch, 0]))]


def good_midi() -> bytes:
    return smf(*[e for p in (60, 62, 64, 65) for e in note(p)])


# --- archives ----------------------------------------------------------------
def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb(unpacked_mb: int) -> bytes:
    """One MIDI-named entry of ``unpacked_mb`` MB of zeros (a few hundred KB packed), streamed to keep memory low."""
    buf = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("bomb.mid", "w", force_zip64=True) as entry:
            for _ in range(unpacked_mb):
                entry.write(chunk)
    return buf.getvalue()


# --- model bundles -----------------------------------------------------------
def tiny_bundle(fill: float | None = None):
    """A real, loadable bundle (1 x LSTM 8 on the event vocabulary); ``fill`` sets every weight to one value."""
    from neurotunes.bundle import ModelBundle
    from neurotunes.config import ModelConfig
    from neurotunes.encodings import EncodingConfig, encoding_for
    from neurotunes.models import weight_shapes

    encoding = EncodingConfig()
    vocab = encoding_for(encoding).vocabulary()
    model = ModelConfig(arch="lstm", vocab_size=len(vocab), embedding_dim=4, units=8, layers=1, dropout=0.0)
    rng = np.random.default_rng(0)
    weights = tuple(
        (np.full(shape, fill) if fill is not None else rng.normal(0.0, 0.3, shape)).astype(np.float32)
        for shape in weight_shapes(model)
    )
    return ModelBundle(model=model, encoding=encoding, vocab=vocab, weights=weights, info={"name": "hostile test"})


def rehashed_bundle_zip(files: dict[str, bytes]) -> bytes:
    """A bundle .zip whose bundle.json carries the correct content hash for ``files`` (so only the content is bad)."""
    import json

    from neurotunes.bundle import FORMAT, VERSION, _content_hash

    manifest = {"format": FORMAT, "version": VERSION,
                "hash": _content_hash(files["config.json"], files["vocab.json"], files["weights.npz"])}
    return zip_of({**files, "bundle.json": json.dumps(manifest).encode()})


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
