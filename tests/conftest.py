"""Shared fixtures: tiny real inputs made by the tests themselves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from neurotunes.score import Note, Score  # noqa: E402


def make_score(pitches=(60, 62, 64, 65, 67, 69, 71, 72), step=0.5, dur=0.45, tempo=120.0, **meta) -> Score:
    """A melody of ``pitches``, one every ``step`` seconds."""
    notes = tuple(Note(pitch=p, start=i * step, end=i * step + dur, velocity=90) for i, p in enumerate(pitches))
    return Score(notes=notes, tempo_bpm=tempo, metadata=meta)


def make_zip(files: dict[str, bytes]) -> bytes:
    """A .zip archive holding ``files`` (name -> bytes)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def play_along_players(at) -> list[str]:
    """The HTML of every play-along player (audio + piano roll with a playhead) on an AppTest page."""
    return [e.proto.srcdoc for e in at.get("iframe") if '<audio id="audio"' in e.proto.srcdoc]


@pytest.fixture
def scale() -> Score:
    return make_score()


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A real 1 x LSTM 32 model trained for a few steps on a handful of generated pieces."""
    from neurotunes.config import ModelConfig, TrainConfig
    from neurotunes.dataset import split_dataset
    from neurotunes.training import train

    pieces = [make_score(pitches=tuple(60 + ((i * k) % 12) for i in range(24)), step=0.25, dur=0.25) for k in range(1, 7)]
    dataset = split_dataset(pieces, validation_fraction=0.2, seed=0, description="test pieces")
    result = train(
        dataset,
        ModelConfig(arch="lstm", units=32, layers=1, embedding_dim=16, dropout=0.0),
        TrainConfig(epochs=2, batch_size=4, sequence_length=16, patience=0),
        name="tiny test model",
    )
    path = result.bundle.save(tmp_path_factory.mktemp("bundle") / "tiny")
    return result.bundle, path


@pytest.fixture(scope="session")
def frame_bundle():
    """A real 1 x GRU 48 model on the sixteenth-note frame encoding, trained briefly on real chorales."""
    from neurotunes.config import ModelConfig, TrainConfig
    from neurotunes.corpus import load_corpus
    from neurotunes.dataset import split_dataset
    from neurotunes.encodings import EncodingConfig
    from neurotunes.training import train

    pieces = load_corpus("bach", limit=8)
    dataset = split_dataset(pieces, validation_fraction=0.25, seed=0, description="chorales",
                            encoding=EncodingConfig(name="frame", steps_per_quarter=4), key_normalization=True)
    return train(dataset, ModelConfig(arch="gru", units=48, layers=1, embedding_dim=16, dropout=0.0),
                 TrainConfig(epochs=2, batch_size=8, sequence_length=64, patience=0), name="tiny chorale model").bundle


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL server for this test session (see tests/postgres_server.py); skipped where PostgreSQL
    is not installed, unless ``bash run.sh test`` said it must be there."""
    from tests import postgres_server as pg

    try:
        with pg.server() as url:
            yield url
    except pg.PostgresUnavailable as exc:
        if os.environ.get(pg.REQUIRE_ENV):
            pytest.fail(f"PostgreSQL is required here ({pg.REQUIRE_ENV}) but {exc}")
        pytest.skip(str(exc))
