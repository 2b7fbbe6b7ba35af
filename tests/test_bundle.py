import io
import json

import numpy as np
import pytest

from neurotunes.bundle import ModelBundle, _content_hash, load_bundle
from neurotunes.models import weight_shapes
from neurotunes.config import ModelConfig
from neurotunes.encodings import EncodingConfig, encoding_for
from neurotunes.errors import BadModel
from tests.conftest import make_zip


def _small_bundle(arch="lstm") -> ModelBundle:
    enc = EncodingConfig()
    vocab = encoding_for(enc).vocabulary()
    cfg = ModelConfig(arch=arch, vocab_size=len(vocab), units=8, layers=2, embedding_dim=4)
    rng = np.random.default_rng(0)
    weights = tuple(rng.normal(size=s).astype(np.float32) for s in weight_shapes(cfg))
    return ModelBundle(model=cfg, encoding=enc, vocab=vocab, weights=weights, metrics={"x": 1}, info={"name": "t"})



@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_folder_and_zip_round_trip(tmp_path, arch):
    b = _small_bundle(arch)
    b.save(tmp_path / "m")
    for loaded in (ModelBundle.load(tmp_path / "m"), ModelBundle.from_zip(b.to_zip())):
        assert loaded.hash == b.hash
        assert loaded.model == b.model
        assert all(np.array_equal(x, y) for x, y in zip(loaded.weights, b.weights))
        assert loaded.metrics.extra == {"x": 1} and loaded.info.name == "t"


def test_tampered_bundle_is_rejected():
    files = _small_bundle().to_files()
    cfg = json.loads(files["config.json"])
    cfg["model"]["units"] = 9
    files["config.json"] = json.dumps(cfg).encode()
    with pytest.raises(BadModel, match="modified"):
        ModelBundle.from_files(files)


@pytest.mark.parametrize("extra", ["model.keras", "saved_model.pb", "model.pkl", "model.h5"])
def test_serialized_models_and_pickles_are_refused(extra):
    files = _small_bundle().to_files()
    files[extra] = b"\x80\x04anything"
    with pytest.raises(BadModel, match="never a serialized model or pickle"):
        ModelBundle.from_zip(make_zip(files))


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_pickle_inside_weights_never_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    good = _small_bundle().to_files()
    buf = io.BytesIO()
    np.savez(buf, w000=np.array([_Payload(marker)], dtype=object))
    evil = buf.getvalue()
    # The attacker can recompute the (unkeyed) hash, so only the pickle guard stands in the way.
    manifest = {"format": "neurotunes-bundle", "version": 1,
                "hash": _content_hash(good["config.json"], good["vocab.json"], evil)}
    files = {**good, "weights.npz": evil, "bundle.json": json.dumps(manifest).encode()}
    with pytest.raises(BadModel, match="plain array"):
        ModelBundle.from_zip(make_zip(files), name="evil.zip")
    assert not marker.exists()
    # Sanity: the payload really would run if unpickled.
    with np.load(io.BytesIO(evil), allow_pickle=True) as npz:
        npz["w000"]
    assert marker.exists()


def test_other_files_are_refused(tmp_path):
    with pytest.raises(BadModel, match="not a valid .zip"):
        ModelBundle.from_zip(b"PK\x03\x04 garbage")
    with pytest.raises(BadModel, match="missing"):
        ModelBundle.from_zip(make_zip({"config.json": b"{}"}))
    with pytest.raises(BadModel, match="no model at"):
        load_bundle(tmp_path / "nothing-here")
    files = _small_bundle().to_files()
    bad_cfg = json.loads(files["config.json"])
    bad_cfg["model"]["units"] = 16  # config no longer matches the weights' shapes
    files["config.json"] = json.dumps(bad_cfg).encode()
    files["bundle.json"] = json.dumps({"format": "neurotunes-bundle", "version": 1, "hash": _content_hash(
        files["config.json"], files["vocab.json"], files["weights.npz"])}).encode()
    with pytest.raises(BadModel, match="do not fit"):
        ModelBundle.from_files(files)


@pytest.mark.parametrize("name, arch, encoding", [("default", "gru", "beat-frame"), ("fiddle", "gru", "beat-frame"),
                                                  ("lstm", "lstm_attention", "event")])
def test_shipped_bundles_load_and_are_small(name, arch, encoding):
    from neurotunes.constants import SHIPPED_MODELS

    b = load_bundle(name)
    # the recipes of scripts/train_shipped.py: 2 layers of 256, keys normalised
    assert (b.model.arch, b.encoding.name) == (arch, encoding) and b.model.units == 256 and b.model.layers == 2
    assert b.key_normalized
    assert b.metrics.val_nll_per_note < 3.2  # default 2.27, fiddle 2.33, lstm 2.65 nats per note when trained
    size = sum(p.stat().st_size for p in SHIPPED_MODELS[name][1].iterdir())
    assert size < 5 * 1024 * 1024  # "a few MB at most"


@pytest.mark.parametrize("name, epochs", [("default", 50), ("fiddle", 143), ("lstm", 30)])
def test_shipped_bundles_write_back_byte_for_byte(name, epochs):
    """Typed metrics and info read and re-write config.json exactly: the content hash stays."""
    from neurotunes.constants import SHIPPED_MODELS

    folder = SHIPPED_MODELS[name][1]
    bundle = load_bundle(name)
    files = bundle.to_files()
    for file in ("bundle.json", "config.json", "metrics.json"):
        assert files[file] == (folder / file).read_bytes(), file
    assert bundle.hash == json.loads((folder / "bundle.json").read_text())["hash"]
    assert bundle.info.dataset.key_normalized and bundle.key_normalized
    assert bundle.metrics.epochs == bundle.metrics.epochs_run == epochs  # as scripts/train_shipped.py says


def test_info_and_metrics_keep_unknown_keys_nulls_and_stray_types():
    from neurotunes.bundle import BundleInfo, BundleMetrics

    raw = {"name": "old", "resumed_from": None, "replicas": 1, "dataset": {"notes": 5, "colour": "blue"},
           "training": {"epochs": 3}, "from_the_future": [1, 2], "initial_epoch": "two"}
    info = BundleInfo.from_dict(raw)
    assert info.to_dict() == raw
    assert (info.name, info.replicas, info.dataset.notes, info.resumed_from) == ("old", 1, 5, None)
    assert info.initial_epoch is None  # a stray type is kept, unread
    assert "resumed_from" not in info.with_values(resumed_from="abc").null_keys
    metrics = BundleMetrics.from_dict({"history": {"loss": [2, 1.5]}, "val_nll_per_note": 3})
    assert metrics.to_dict() == {"history": {"loss": [2, 1.5]}, "val_nll_per_note": 3}  # 3 stays an int
    assert metrics.curves == {"loss": [2.0, 1.5]} and metrics.epochs == 2
    ragged = BundleMetrics.from_dict({"history": {"loss": [1.0, 2.0], "val_loss": [1.0]}})
    assert ragged.history is None and ragged.curves == {} and ragged.extra["history"]["val_loss"] == [1.0]
    bundle = _small_bundle()
    b = ModelBundle(bundle.model, bundle.encoding, bundle.vocab, bundle.weights, info=raw)
    assert ModelBundle.from_files(b.to_files()).hash == b.hash


def test_an_older_name_of_a_shipped_model_loads_the_model_it_names_today():
    from neurotunes.constants import shipped_name

    assert shipped_name("chorale") == "default" and shipped_name("default") == "default"
    assert shipped_name("no-such-model") is None
    assert load_bundle("chorale").hash == load_bundle("default").hash != load_bundle("lstm").hash


def test_a_model_suggests_its_sampler_settings_outside_the_hash_and_the_user_overrides_them():
    from neurotunes.bundle import BundleMetrics
    from neurotunes.config import GenerateConfig

    shipped = load_bundle("default")
    assert shipped.suggested_settings == {"pitch_top_p": 0.95}  # measured: benchmarks/quality.py, README
    fiddle = load_bundle("fiddle")
    assert fiddle.suggested_settings == {} and fiddle.generate_config() == GenerateConfig()
    assert shipped.generate_config().pitch_top_p == 0.95
    assert shipped.generate_config(pitch_top_p=1.0, seed=4) == GenerateConfig(seed=4)  # the caller's choice wins
    bundle = _small_bundle()
    suggesting = ModelBundle(bundle.model, bundle.encoding, bundle.vocab, bundle.weights,
                             metrics={"sampling": {"temperature": 0.8, "top_k": 20}}, info=bundle.info)
    assert suggesting.hash == bundle.hash  # a suggestion measured later leaves links to the model working
    again = ModelBundle.from_files(suggesting.to_files())
    assert again.generate_config(length=30) == GenerateConfig(temperature=0.8, top_k=20, length=30)
    # A suggestion that is not a sampler setting, or out of its range, is kept unread: the model still loads.
    for stray in ({"seed": 3}, {"length": 5}, {"colour": "blue"}, {"temperature": 99}, {"top_k": "many"}, [0.9]):
        metrics = BundleMetrics.from_dict({"sampling": stray})
        assert metrics.sampling is None and metrics.extra["sampling"] == stray
        odd = ModelBundle(bundle.model, bundle.encoding, bundle.vocab, bundle.weights, metrics={"sampling": stray})
        assert ModelBundle.from_files(odd.to_files()).generate_config() == GenerateConfig()
