"""Model bundles: weights only + vocabulary + config + metrics + a content hash.

A bundle is a folder (or the same files in a .zip)::

    bundle.json    {"format": "neurotunes-bundle", "version": 1, "hash": "<sha256>"}
    config.json    {"model": ModelConfig, "encoding": EncodingConfig, "training": ..., "dataset": ...}
    vocab.json     {"tokens": [...]}
    weights.npz    the model's weight arrays, in ``model.get_weights()`` order
    metrics.json   training curves, validation figures and the sampler settings the model was measured best at

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
from typing import Any, ClassVar, Mapping

import numpy as np

from . import constants as C
from .config import GenerateConfig, ModelConfig, settings_of
from .encodings import EncodingConfig, Vocabulary, encoding_for
from .errors import BadConfig, BadModel
from .models import weight_shapes
from .records import DatasetStats, JsonRecord

FORMAT = "neurotunes-bundle"
VERSION = 1
FILES = ("bundle.json", "config.json", "vocab.json", "weights.npz", "metrics.json")
MAX_BUNDLE_MB = 200


def _history(value: Any) -> dict[str, list] | None:
    """Training curves, if well-formed: a ``loss`` curve and every curve a list of numbers as long as it
    (metrics.json may come from anywhere; anything else is kept unread)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("loss"), list):
        return None
    epochs = len(value["loss"])
    well_formed = all(
        isinstance(curve, list) and len(curve) == epochs
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in curve)
        for curve in value.values()
    )
    return dict(value) if well_formed else None


#: Settings a model never suggests: which take, how long, how many seconds at most are the user's.
UNSUGGESTED = ("seed", "length", "seconds")


def _sampling(value: Any) -> dict[str, Any] | None:
    """Suggested sampler settings, if well-formed: a mapping of :class:`GenerateConfig` settings (not
    :data:`UNSUGGESTED`) to values each setting accepts; anything else is kept unread (None)."""
    if not isinstance(value, Mapping):
        return None
    suggestible = {name for name, _, _ in settings_of(GenerateConfig)} - set(UNSUGGESTED)
    if not set(value) <= suggestible:
        return None
    try:
        GenerateConfig.from_dict({**GenerateConfig().to_dict(), **value})
    except BadConfig:
        return None
    return dict(value)


@dataclass(frozen=True)
class BundleMetrics(JsonRecord):
    """``metrics.json``: the training curves and the validation figures of the weights kept.

    ``history`` maps a Keras metric (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``)
    to one value per epoch run, a resumed run's earlier epochs included.  The figures
    describe the weights in the bundle (the best epoch); each is None when not measured.

    ``sampling`` is what the model suggests to its sampler: the settings its music was measured best at
    (``{"pitch_top_p": 0.95}`` for the shipped chorale model: benchmarks/quality.py), which a take starts
    from unless the user sets them (:meth:`ModelBundle.generate_config`).  Like the rest of this file it
    is not part of the content hash: a suggestion measured later does not make old links unreadable, and
    a link or a take names every setting it used, so it plays the same whatever is suggested.
    """

    _TYPES: ClassVar[Mapping[str, Any]] = {
        "history": _history, "epochs_run": int, "best_val_loss_per_token": float,
        "val_nll_per_note": float, "val_accuracy": float, "sampling": _sampling,
    }

    history: Mapping[str, list[float]] | None = None
    epochs_run: int | None = None
    best_val_loss_per_token: float | None = None
    val_nll_per_note: float | None = None  # nats per note on the validation pieces
    val_accuracy: float | None = None
    sampling: Mapping[str, Any] | None = None

    @property
    def curves(self) -> dict[str, list[float]]:
        """The history as fresh lists of floats (empty when none was recorded)."""
        return {str(k): [float(v) for v in curve] for k, curve in (self.history or {}).items()}

    @property
    def epochs(self) -> int:
        """Epochs the weights have seen: the length of the recorded loss curve."""
        return len((self.history or {}).get("loss", []))


@dataclass(frozen=True)
class BundleInfo(JsonRecord):
    """``info`` in ``config.json``: where a model comes from.

    Part of the content hash, so it is written back exactly as read (see
    :mod:`neurotunes.records`).  ``training`` stays the settings as they were
    written (a later :class:`~neurotunes.config.TrainConfig` may add fields, and
    re-writing it would change an old bundle's hash).
    """

    _TYPES: ClassVar[Mapping[str, Any]] = {
        "name": str, "dataset": DatasetStats, "training": Mapping, "resumed_from": str,
        "initial_epoch": int, "replicas": int, "trained_at": str,
    }

    name: str | None = None
    dataset: DatasetStats | None = None
    training: Mapping[str, Any] | None = None  # TrainConfig.to_dict() of the run
    resumed_from: str | None = None  # the hash of the bundle this run continued
    initial_epoch: int | None = None  # epochs done before this run (a resumed run's earlier ones)
    replicas: int | None = None  # devices the run trained on in parallel
    trained_at: str | None = None  # local time, "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class ModelBundle:
    model: ModelConfig
    encoding: EncodingConfig
    vocab: Vocabulary
    weights: tuple[np.ndarray, ...]
    metrics: BundleMetrics = field(default_factory=BundleMetrics)
    info: BundleInfo = field(default_factory=BundleInfo)

    def __post_init__(self) -> None:
        # A plain mapping (as read from JSON) is accepted and read into its record.
        if not isinstance(self.metrics, BundleMetrics):
            object.__setattr__(self, "metrics", BundleMetrics.from_dict(self.metrics))
        if not isinstance(self.info, BundleInfo):
            object.__setattr__(self, "info", BundleInfo.from_dict(self.info))
        if len(self.vocab) != self.model.vocab_size:
            raise BadModel(
                f"vocabulary has {len(self.vocab)} tokens but the model expects {self.model.vocab_size}"
            )

    @property
    def name(self) -> str:
        return self.info.name or "model"

    @property
    def key_normalized(self) -> bool:
        """Trained on pieces moved to C major / A minor: it writes in those keys (and expects primers there)."""
        return bool(self.info.dataset is not None and self.info.dataset.key_normalized)

    @property
    def suggested_settings(self) -> dict[str, Any]:
        """The sampler settings the model suggests (``metrics.json``'s ``sampling``; empty when none)."""
        return dict(self.metrics.sampling or {})

    def generate_config(self, **settings: Any) -> GenerateConfig:
        """The settings a take of this model starts from: the library's defaults, then the model's
        suggestions (:attr:`suggested_settings`), then ``settings``: what the caller chose.

        Raises
        ------
        BadConfig
            A setting that does not exist or a value out of its range.
        """
        return GenerateConfig.from_dict({**GenerateConfig().to_dict(), **self.suggested_settings, **settings})

    def config_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "encoding": self.encoding.to_dict(), "info": self.info.to_dict()}

    @property
    def hash(self) -> str:
        """sha256 over config, vocabulary and weights: identifies the model in recipes and links."""
        return _content_hash(_json_bytes(self.config_dict()), self.vocab.to_json().encode(), _weights_bytes(self.weights))

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def weights_digest(self) -> str:
        """sha256 over the weights alone (the :attr:`hash` also covers when and how the model was made): two
        workers of one multi-worker run end with the same digest."""
        return hashlib.sha256(_weights_bytes(self.weights)).hexdigest()[:16]

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
            "metrics.json": _json_bytes(self.metrics.to_dict()),
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
        if not isinstance(metrics, dict):
            raise BadModel(f"{name}: metrics.json holds a {type(metrics).__name__}, not a JSON object")
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
            info = BundleInfo.from_dict(config.get("info", {}))
            metrics = BundleMetrics.from_dict(metrics)
        except (BadConfig, KeyError, TypeError, AttributeError) as exc:  # AttributeError: "info" is no object
            raise BadModel(f"{name} has an invalid config: {exc}") from None
        try:
            encoding_for(encoding).check_vocabulary(vocab)
        except BadConfig as exc:
            raise BadModel(f"{name}: {exc}") from None
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


def _check_weight_shapes(model: ModelConfig, weights: tuple[np.ndarray, ...], name: str) -> None:
    want = weight_shapes(model)
    got = [tuple(w.shape) for w in weights]
    if got == want:
        return
    if len(got) != len(want):
        detail = f"it holds {len(got)} weight arrays, the config's model has {len(want)}"
    else:
        i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
        detail = f"weight array {i} has shape {got[i]}, the config's model needs {want[i]}"
    raise BadModel(f"{name}: weights do not fit the {model.arch} architecture in its config ({detail})")


def load_bundle(spec: str | Path | bytes) -> ModelBundle:
    """Load a shipped model by name (``'default'``, ``'fiddle'``, ``'lstm'``, or an older name such as
    ``'chorale'``), a bundle folder, a .zip path or .zip bytes."""
    shipped = C.shipped_name(spec) if isinstance(spec, str) else None
    if shipped:
        return ModelBundle.load(C.SHIPPED_MODELS[shipped][1])
    return ModelBundle.load(spec)
