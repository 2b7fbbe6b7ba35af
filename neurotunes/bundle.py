"""Model bundles: weights only + vocabulary + config + metrics + a content hash.

A bundle is a folder (or the same files in a .zip)::

    bundle.json    {"format": "neurotunes-bundle", "version": 1, "hash": "<sha256>"}
    config.json    {"model": ModelConfig, "encoding": EncodingConfig, "training": ..., "dataset": ...}
    vocab.json     {"tokens": [...]}
    weights.npz    the model's weight arrays, in ``model.get_weights()`` order
    metrics.json   training curves and validation figures

Loading never deserializes a model or a pickle: the architecture is rebuilt in
our own code from ``config.json`` and only numeric arrays are read
(``np.load(..., allow_pickle=False)``).  Any other file is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import constants as C
from .config import ModelConfig
from .encoding import BOS, EncodingConfig, Vocabulary
from .errors import BadConfig, BadModel

FORMAT = "neurotunes-bundle"
VERSION = 1
FILES = ("bundle.json", "config.json", "vocab.json", "weights.npz", "metrics.json")
MAX_BUNDLE_MB = 200


@dataclass(frozen=True)
class ModelBundle:
    model: ModelConfig
    encoding: EncodingConfig
    vocab: Vocabulary
    weights: tuple[np.ndarray, ...]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)  # name, dataset, training settings

    def __post_init__(self) -> None:
        if len(self.vocab) != self.model.vocab_size:
            raise BadModel(
                f"vocabulary has {len(self.vocab)} tokens but the model expects {self.model.vocab_size}"
            )

    @property
    def name(self) -> str:
        return str(self.info.get("name", "model"))

    @property
    def key_normalized(self) -> bool:
        """Trained on pieces moved to C major / A minor: it writes in those keys (and expects primers there)."""
        return bool(self.info.get("dataset", {}).get("key_normalized", False))

    def config_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "encoding": self.encoding.to_dict(), "info": dict(self.info)}

    @property
    def hash(self) -> str:
        """sha256 over config, vocabulary and weights: identifies the model in recipes and links."""
        return _content_hash(_json_bytes(self.config_dict()), self.vocab.to_json().encode(), _weights_bytes(self.weights))

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    # --- writing -------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        config = _json_bytes(self.config_dict())
        vocab = self.vocab.to_json().encode()
        weights = _weights_bytes(self.weights)
        manifest = {"format": FORMAT, "version": VERSION, "hash": _content_hash(config, vocab, weights)}
        return {
            "bundle.json": _json_bytes(manifest),
            "config.json": config,
            "vocab.json": vocab,
            "weights.npz": weights,
            "metrics.json": _json_bytes(dict(self.metrics)),
        }

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.to_files().items():
            (directory / name).write_bytes(data)
        return directory

    def to_zip(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in self.to_files().items():
                zf.writestr(name, data)
        return buf.getvalue()

    # --- reading -------------------------------------------------------
    @classmethod
    def from_files(cls, files: Mapping[str, bytes], *, name: str = "bundle") -> "ModelBundle":
        extra = sorted(set(files) - set(FILES))
        if extra:
            raise BadModel(
                f"{name} is not a NeuroTunes bundle: it holds {', '.join(extra[:5])}; "
                "only weights and JSON are accepted, never a serialized model or pickle"
            )
        missing = [f for f in FILES if f not in files]
        if missing:
            raise BadModel(f"{name} is not a complete NeuroTunes bundle: missing {', '.join(missing)}")
        try:
            manifest = json.loads(files["bundle.json"])
            config = json.loads(files["config.json"])
            metrics = json.loads(files["metrics.json"])
        except ValueError as exc:
            raise BadModel(f"{name}: a JSON file is unreadable ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BadModel(f"{name} is not a NeuroTunes bundle (bundle.json has no format tag)")
        if manifest.get("version") != VERSION:
            raise BadModel(f"{name} has bundle version {manifest.get('version')!r}; this NeuroTunes reads {VERSION}")
        expected = manifest.get("hash")
        actual = _content_hash(files["config.json"], files["vocab.json"], files["weights.npz"])
        if expected != actual:
            raise BadModel(f"{name} was modified after it was saved (content hash does not match)")
        try:
            model = ModelConfig.from_dict(config["model"])
            encoding = EncodingConfig.from_dict(config["encoding"])
            vocab = Vocabulary.from_json(files["vocab.json"])
            info = config.get("info", {})
        except (BadConfig, KeyError, TypeError) as exc:
            raise BadModel(f"{name} has an invalid config: {exc}") from None
        if encoding.name == "event" and vocab != Vocabulary.for_encoding(encoding):
            raise BadModel(f"{name}: its vocabulary does not match its encoding settings")
        if encoding.name == "classic" and vocab.tokens[:1] != (BOS,):
            raise BadModel(f"{name}: a classic vocabulary must start with {BOS}")
        weights = _read_weights(files["weights.npz"], name)
        _check_weight_shapes(model, weights, name)
        return cls(model=model, encoding=encoding, vocab=vocab, weights=weights, metrics=metrics, info=info)

    @classmethod
    def load(cls, source: str | Path | bytes) -> "ModelBundle":
        """Load a bundle from a folder, a .zip path, or .zip bytes."""
        if isinstance(source, (bytes, bytearray)):
            return cls.from_zip(bytes(source))
        path = Path(source)
        if path.is_dir():
            files = {}
            for p in path.iterdir():
                if p.name.startswith("."):
                    continue
                files[p.name] = p.read_bytes() if p.is_file() else b""
            return cls.from_files(files, name=path.name)
        if path.is_file():
            if path.stat().st_size > MAX_BUNDLE_MB * 1024 * 1024:  # before reading it: a 3 GB file is no model
                raise BadModel(f"{path.name} is over {MAX_BUNDLE_MB} MB")
            return cls.from_zip(path.read_bytes(), name=path.name)
        raise BadModel(f"no model at {path}: give a bundle folder, a .zip, or 'default'")

    @classmethod
    def from_zip(cls, data: bytes, *, name: str = "uploaded model") -> "ModelBundle":
        if len(data) > MAX_BUNDLE_MB * 1024 * 1024:
            raise BadModel(f"{name} is over {MAX_BUNDLE_MB} MB")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
                if len(infos) > len(FILES) * 2:
                    raise BadModel(f"{name} holds {len(infos)} files; a bundle holds {len(FILES)}")
                if sum(i.file_size for i in infos) > MAX_BUNDLE_MB * 1024 * 1024:
                    raise BadModel(f"{name} unpacks to more than {MAX_BUNDLE_MB} MB")
                files = {i.filename.rsplit("/", 1)[-1]: zf.read(i) for i in infos}
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BadModel(f"{name} is not a valid .zip bundle ({exc})") from None
        return cls.from_files(files, name=name)


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, indent=1).encode()


def _content_hash(config: bytes, vocab: bytes, weights: bytes) -> str:
    h = hashlib.sha256()
    for part in (config, vocab, weights):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _weights_bytes(weights: tuple[np.ndarray, ...]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{f"w{i:03d}": np.asarray(w, dtype=np.float32) for i, w in enumerate(weights)})
    return buf.getvalue()


def _read_weights(data: bytes, name: str) -> tuple[np.ndarray, ...]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            keys = sorted(npz.files)
            if keys != [f"w{i:03d}" for i in range(len(keys))]:
                raise BadModel(f"{name}: weights.npz has unexpected array names")
            arrays = tuple(np.asarray(npz[k]) for k in keys)
    except BadModel:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # allow_pickle=False makes numpy refuse object arrays (pickles) with ValueError.
        raise BadModel(f"{name}: weights.npz is not a plain array file ({exc})") from None
    if any(a.dtype != np.float32 for a in arrays):
        raise BadModel(f"{name}: weights must be float32 arrays")
    bad = sum(int(a.size - np.count_nonzero(np.isfinite(a))) for a in arrays)
    if bad:
        # A diverged training run saves NaN/inf weights; every step of such a model is NaN, and a sampler
        # fed NaN scores never finishes a note.  Refuse it at the door.
        raise BadModel(f"{name}: {bad} of its weights are not finite numbers (NaN or infinity), so it cannot "
                       "make music; it probably comes from a training run that diverged: retrain it with a "
                       "lower learning rate")
    return arrays


def expected_weight_shapes(model: ModelConfig) -> list[tuple[int, ...]]:
    """Weight shapes of :func:`neurotunes.models.build_model` in ``get_weights()`` order (no TF needed)."""
    shapes: list[tuple[int, ...]] = [(model.vocab_size, model.embedding_dim)]
    u = model.units
    if model.arch == "cnn":
        shapes += [(1, model.embedding_dim, u), (u,)]
        for _ in range(model.layers):
            shapes += [(2, u, 2 * u), (2 * u,), (1, u, u), (u,)]
        return shapes + [(u, model.vocab_size), (model.vocab_size,)]
    gates = {"lstm": 4, "lstm_attention": 4, "gru": 3, "rnn": 1}[model.arch]
    inp = model.embedding_dim
    for _ in range(model.layers):
        shapes.append((inp, gates * u))
        shapes.append((u, gates * u))
        shapes.append((2, gates * u) if model.arch == "gru" else (gates * u,))
        inp = u
    if model.arch == "lstm_attention":
        shapes.append(())  # the attention's learned scale
        return shapes + [(2 * u, model.vocab_size), (model.vocab_size,)]
    return shapes + [(u, model.vocab_size), (model.vocab_size,)]


def _check_weight_shapes(model: ModelConfig, weights: tuple[np.ndarray, ...], name: str) -> None:
    want = expected_weight_shapes(model)
    got = [tuple(w.shape) for w in weights]
    if got != want:
        raise BadModel(f"{name}: weights do not fit the {model.arch} architecture in its config")


def load_bundle(spec: str | Path | bytes) -> ModelBundle:
    """Load a shipped model by name (``'default'``, ``'fiddle'``), a bundle folder, a .zip path or .zip bytes."""
    if isinstance(spec, str) and spec in C.SHIPPED_MODELS:
        return ModelBundle.load(C.SHIPPED_MODELS[spec][1])
    return ModelBundle.load(spec)
