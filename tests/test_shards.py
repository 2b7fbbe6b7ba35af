"""A corpus prepared into shards with Apache Beam, streamed into training, and trained on two workers.

Real Beam (its local multi-process runner), real TFRecord files read by real tf.data, real
TensorFlow training with MultiWorkerMirroredStrategy in two processes; the pieces are tiny
files the tests write themselves.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from neurotunes.bundle import ModelBundle
from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig
from neurotunes.dataset import make_windows
from neurotunes.encodings import EncodingConfig, encoding_for
from neurotunes.errors import BadConfig, DatasetError
from neurotunes.generate import generate
from neurotunes.midi_io import score_to_midi
from neurotunes.shards import ShardSet, prepare, read_tfrecords, split_of
from tests.conftest import ROOT, make_score

ABC = b"""X:1
T:First
M:4/4
L:1/8
K:G
GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|

X:2
T:Second
M:3/4
L:1/8
K:D
A2 FA dA|B2 GB dB|A2 FA dA|e2 ce a2|
"""


def _pieces(k: int):
    return make_score(pitches=tuple(55 + (i * k) % 17 for i in range(32)), step=0.25, dur=0.25)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder as a user has one: MIDI files in two sub-folders (one name in both), an ABC collection of two
    tunes, a zip of two MIDI files, and one file that is not music."""
    root = tmp_path_factory.mktemp("corpus") / "tunes"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    for k in range(1, 7):
        (root / ("a" if k % 2 else "b") / f"piece{k % 3}.mid").write_bytes(score_to_midi(_pieces(k)))
    (root / "folk.abc").write_bytes(ABC)
    with zipfile.ZipFile(root / "more.zip", "w") as zf:
        for k in (7, 8):
            zf.writestr(f"z{k}.mid", score_to_midi(_pieces(k)))
    (root / "broken.mid").write_bytes(b"this is not a MIDI file")
    return root


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    report = prepare([str(corpus)], out, encoding=EncodingConfig(), validation_fraction=0.25, workers=2,
                     items_per_shard=3)
    return out, report


def test_prepare_writes_shards_and_a_manifest_in_parallel(prepared, corpus):
    out, report = prepared
    manifest = json.loads((out / "manifest.json").read_text())
    # 6 MIDI + 2 tunes + 2 in the zip = 10 pieces from 9 inputs, the broken file one of them: 3 shards of 3.
    assert report.shards_made == 3 and report.shards_reused == 0
    assert len(manifest["pieces"]) == 10
    assert [e["input"] for e in manifest["errors"]] == ["tunes/broken.mid"]
    assert "MIDI" in manifest["errors"][0]["reason"]
    sources = sorted(p["source"] for p in manifest["pieces"])
    assert "tunes/a/piece1.mid" in sources and "tunes/b/piece1.mid" in sources  # same names, both kept
    assert sum(s.startswith("tunes/folk.abc") for s in sources) == 2
    assert all(p["split"] == split_of(p["id"], 0.25) for p in manifest["pieces"])
    totals = manifest["totals"]
    assert totals["train"]["pieces"] + totals["validation"]["pieces"] == 10 and totals["validation"]["pieces"] >= 1
    assert manifest["encoding"] == EncodingConfig().to_dict()
    assert manifest["vocabulary"] == list(encoding_for(EncodingConfig()).vocabulary().tokens)
    # Every record is a piece's tokens, as the encoding writes them; the counts add up.
    records = [r.decode().split(" ") for split in ("train", "validation") for name in manifest["shards"][split]
               for r in read_tfrecords(out / name)]
    assert len(records) == 10 and all(r[0] == "BOS" for r in records)
    assert sum(map(len, records)) == totals["train"]["tokens"] + totals["validation"]["tokens"]
    expected = encoding_for(EncodingConfig()).encode(_pieces(1))
    assert expected in records


def test_a_rerun_resumes_and_other_settings_are_refused(prepared, corpus):
    out, first = prepared
    before = json.loads((out / "manifest.json").read_text())
    (out / "shard-00001.json").unlink()  # as if the run had stopped before this shard finished
    again = prepare([str(corpus)], out, encoding=EncodingConfig(), validation_fraction=0.25, workers=1,
                    items_per_shard=3)
    assert (again.shards_made, again.shards_reused) == (1, 2)
    after = json.loads((out / "manifest.json").read_text())
    assert sorted(map(json.dumps, after["pieces"])) == sorted(map(json.dumps, before["pieces"]))
    with pytest.raises(DatasetError, match="other sources or settings"):
        prepare([str(corpus)], out, encoding=EncodingConfig(name="classic"), validation_fraction=0.25)


def test_a_vocabulary_from_the_pieces_is_merged_over_shards(corpus, tmp_path):
    report = prepare([str(corpus / "a"), str(corpus / "folk.abc")], tmp_path, encoding=EncodingConfig(name="classic"),
                     items_per_shard=2, validation_fraction=0.0)
    shards = report.manifest
    pieces = [_pieces(k) for k in (1, 3, 5)]
    encoding = encoding_for(EncodingConfig(name="classic"))
    assert set(encoding.vocabulary(pieces).tokens) <= set(shards.vocab.tokens)
    assert shards.vocab.tokens[0] == "BOS" and list(shards.vocab.tokens[1:]) == sorted(shards.vocab.tokens[1:])
    assert shards.totals["validation"]["pieces"] == 0 and not shards.has_validation


def test_bad_sources_and_folders_say_why(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        prepare([str(tmp_path / "nowhere")], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no MIDI, MusicXML, ABC"):
        prepare([str(tmp_path / "empty")], tmp_path / "out")
    with pytest.raises(DatasetError, match="unknown music21 corpus"):
        prepare(["corpus:nonesuch"], tmp_path / "out")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.mid").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="no input gave a usable piece"):
        prepare([str(tmp_path / "junk")], tmp_path / "out2")
    with pytest.raises(DatasetError, match="has no manifest.json"):
        ShardSet.load(tmp_path / "empty")


def test_streamed_windows_are_the_in_memory_windows(prepared):
    out, _ = prepared
    shards = ShardSet.load(out)
    length = 16
    tokens = []
    for path in shards.paths("train"):
        for record in read_tfrecords(path):
            tokens += record.decode().split(" ")
    # One file at a time, unshuffled, is the pieces back to back: the windows must be make_windows' exactly.
    single = ShardSet(folder=out, encoding=shards.encoding, vocab=shards.vocab,
                      files={"train": shards.files["train"][:1], "validation": ()},
                      totals=shards.totals, key_normalized=False, sources=shards.sources)
    first = [r.decode().split(" ") for r in read_tfrecords(single.paths("train")[0])]
    stream = shards.vocab.encode([t for piece in first for t in piece])
    x, y = make_windows(stream, length)
    got = list(single.windows("train", length, 1, shuffle=False).as_numpy_iterator())
    assert len(got) == len(x)
    assert all(np.array_equal(a[0], b) and np.array_equal(t[0], c) for (a, t), b, c in zip(got, x, y))
    # All files, shuffled: every window once per epoch, as many as the manifest says.
    batches = list(shards.windows("train", length, 4, seed=1).as_numpy_iterator())
    assert len(batches) == shards.windows_in("train", length) // 4
    assert sum(len(a) for a, _ in batches) == len(batches) * 4 and len(tokens) == shards.totals["train"]["tokens"]


def test_train_streams_from_shards_and_the_model_generates(prepared, tmp_path):
    from neurotunes.training import train

    out, _ = prepared
    shards = ShardSet.load(out)
    result = train(shards, ModelConfig(arch="gru", units=16, layers=1, embedding_dim=8, dropout=0.0),
                   TrainConfig(epochs=2, batch_size=4, sequence_length=16, patience=0), name="from shards")
    bundle = ModelBundle.load(result.bundle.save(tmp_path / "m"))
    assert bundle.encoding == shards.encoding and bundle.vocab == shards.vocab
    assert bundle.info.dataset.pieces_train == shards.totals["train"]["pieces"]
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["val_loss"]).all()
    assert result.bundle.metrics.val_nll_per_note > 0
    take = generate(bundle, GenerateConfig(seed=0, length=12))
    assert len(take.notes) == 12
    with pytest.raises(BadConfig, match="cannot be transposed"):
        train(shards, ModelConfig(arch="gru", units=8, layers=1), TrainConfig(epochs=1, transpose_semitones=2))
    with pytest.raises(DatasetError, match="fewer than one batch"):
        train(shards, ModelConfig(arch="gru", units=8, layers=1), TrainConfig(epochs=1, sequence_length=2048))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_train_one_model_from_shards(prepared, tmp_path):
    out, _ = prepared
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    model = tmp_path / "model"
    command = [sys.executable, "-m", "neurotunes", "train", "--shards", str(out), "--strategy", "multiworker",
               "--arch", "gru", "--units", "16", "--layers", "1", "--embedding", "8", "--epochs", "2",
               "--sequence-length", "16", "--batch-size", "4", "--max-steps", "4", "-o", str(model)]
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                      "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    digests = [next(line.split("weights ")[1] for line in err.splitlines() if "weights " in line)
               for _, err in outputs]
    assert digests[0] == digests[1] and len(digests[0]) == 16  # the same weights on both workers
    assert "worker 1 writes the model" in outputs[1][0] and "saved model" in outputs[0][0]
    bundle = ModelBundle.load(model)
    assert bundle.weights_digest() == digests[0] and bundle.info.replicas == 2
    assert len(generate(bundle, GenerateConfig(seed=1, length=10)).notes) == 10


def test_the_cli_prepares_and_reports_unreadable_files(corpus, tmp_path):
    done = subprocess.run([sys.executable, "-m", "neurotunes", "prepare", str(corpus), "-o", str(tmp_path / "s"),
                           "--workers", "2", "--per-shard", "4"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 3, done.stderr  # some inputs failed, the others were written
    assert "skipped tunes/broken.mid" in done.stderr
    assert "10 pieces" in done.stdout and "1 unreadable" in done.stdout
    assert "apache_beam" not in done.stderr and "sdk_worker" not in done.stderr  # Beam's chatter stays in the log
    bad = subprocess.run([sys.executable, "-m", "neurotunes", "train", "--shards", str(tmp_path / "nowhere"),
                          "-o", str(tmp_path / "m")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "has no manifest.json" in bad.stderr
