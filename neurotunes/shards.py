"""A corpus prepared once, in parallel, into sharded TFRecord files that training streams.

``neurotunes prepare SRC... -o shards/ --workers N`` (or :func:`prepare`) reads
folders and ``.zip`` files of MIDI / MusicXML / ABC and music21 corpora
(``corpus:essen``), encodes every piece and writes:

* ``train-00000.tfrecord``, ``validation-00000.tfrecord``, ... — one record per
  piece: its tokens, UTF-8, separated by single spaces (BOS first).  Any TFRecord
  reader takes them; :meth:`ShardSet.windows` turns them into training windows
  with ``tf.data`` (interleave, shuffle buffer, prefetch) without ever holding
  the corpus in memory.
* ``manifest.json`` — the encoding's config, the vocabulary, every piece (id,
  source, split, key, notes, tokens, shard), every file that could not be read
  with the reason, and the totals.

The work runs on Apache Beam: each shard is one element of a pipeline that reads
its slice of the inputs, encodes it and writes its files.  Locally that is Beam's
multi-process runner (``--workers N``); ``--runner`` and Beam's own options run the
same pipeline on Dataflow, Flink or Spark, with the inputs and ``-o`` on storage
every worker sees.  A run is resumable: a shard whose files are complete is not
made again, so an interrupted run goes on where it stopped.  A file that cannot be
read is listed with its reason and the run goes on.

Each piece's split is decided by its id alone (a hash), so a piece stays on its
side however the corpus grows or is sharded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from . import constants as C
from ._quiet import import_tensorflow, quiet_beam
from .corpus import CORPORA, _abc_tunes, _parse_abc_tune, _parse_corpus_file, corpus_paths
from .dataset import normalize_key, scores_from_files, supported_suffixes
from .encodings import BOS, EncodingConfig, Vocabulary, encoding_for
from .errors import BadConfig, DatasetError, NeuroTunesError
from .keys import piece_key
from .records import DatasetStats
from .score import Score

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PLAN = "plan.json"
FORMAT_VERSION = 1
SPLITS = ("train", "validation")
#: Inputs (files, or tunes of a music21 ABC collection) per shard: enough work per Beam element to be worth it,
#: and enough shards for every worker (and, when training on several machines, every training worker).
DEFAULT_ITEMS_PER_SHARD = 200
CORPUS_PREFIX = "corpus:"
#: Where the Train page looks for prepared folders (each a sub-folder holding a manifest.json).
SHARDS_DIR_ENV = "NEUROTUNES_SHARDS_DIR"


def shards_root() -> Path:
    """``$NEUROTUNES_SHARDS_DIR``, else ``shards`` in the data folder: the app offers the folders prepared here
    (and never reads a path a visitor types)."""
    configured = os.environ.get(SHARDS_DIR_ENV, "").strip()
    return Path(configured) if configured else C.data_dir() / "shards"


def prepared_folders(root: Path | None = None) -> list[Path]:
    """The sub-folders of ``root`` (default :func:`shards_root`) that hold a finished preparation, by name."""
    root = root or shards_root()
    try:
        return sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())
    except OSError:
        return []


# --- what to read -----------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One input: a file (``kind="file"``, a zip included), one tune of a music21 ABC collection
    (``"tune"``, ``index`` in the collection) or one other music21 corpus file (``"corpus"``)."""

    kind: str
    path: str
    label: str  # how the item is named in the manifest (relative to its source)
    index: int = 0

    def to_list(self) -> list:
        return [self.kind, self.path, self.label, self.index]


def plan_items(sources: Sequence[str], *, limit: int | None = None) -> list[Item]:
    """Every input the sources hold, in a stable order (at most ``limit``).

    A source is a folder (searched recursively for MIDI, MusicXML, ABC and .zip files), one such file, or
    ``corpus:NAME`` for a music21 corpus (its ABC collections split into tunes).

    Raises
    ------
    DatasetError
        A source that does not exist, a folder without music files, an unknown corpus.
    """
    items: list[Item] = []
    suffixes = supported_suffixes()
    for source in sources:
        if source.startswith(CORPUS_PREFIX):
            key = source[len(CORPUS_PREFIX):]
            if key not in CORPORA:
                raise DatasetError(f"unknown music21 corpus {key!r}; known: {', '.join(CORPORA)}")
            for path in corpus_paths(key):
                name = f"{key}/{Path(path).name}"
                tunes = _abc_tunes(path)
                if tunes is None:
                    items.append(Item("corpus", path, name))
                else:
                    items += [Item("tune", path, f"{name}#{i + 1}", i) for i in range(len(tunes))]
            continue
        root = Path(source)
        if root.is_dir():
            found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise DatasetError(f"no MIDI, MusicXML, ABC or .zip files in {source}")
            items += [Item("file", str(p), f"{root.name}/{p.relative_to(root).as_posix()}") for p in found]
        elif root.is_file():
            if root.suffix.lower() not in suffixes:
                raise DatasetError(f"{source} is not a MIDI, MusicXML, ABC or .zip file")
            items.append(Item("file", str(root), root.name))
        else:
            raise DatasetError(f"{source} does not exist (give folders, files or corpus:NAME)")
    return items[:limit] if limit else items


@functools.lru_cache(maxsize=8)
def _tunes_of(path: str) -> tuple[str, ...]:
    return tuple(_abc_tunes(path) or ())


def read_item(item: Item, errors: list[str]) -> list[Score]:
    """The pieces of one input; what goes wrong is appended to ``errors`` (never raised)."""
    try:
        if item.kind == "tune":
            score = _parse_abc_tune(_tunes_of(item.path)[item.index], Path(item.path).name, item.index + 1)
            return [] if score is None else [score.with_metadata(source=item.label)]
        if item.kind == "corpus":
            return [s.with_metadata(source=item.label) for s in _parse_corpus_file(item.path)]
        path = Path(item.path)
        cap = 200 if path.suffix.lower() == ".zip" else C.MAX_UPLOAD_MB
        if path.stat().st_size > cap * 1024 * 1024:
            errors.append(f"{item.label}: over {cap} MB")
            return []
        found: list[str] = []
        scores = scores_from_files([(item.label, path.read_bytes())], found)
        errors += found
        return scores
    except NeuroTunesError as exc:
        errors.append(str(exc) if item.label in str(exc) else f"{item.label}: {exc}")
    except (OSError, IndexError) as exc:
        errors.append(f"{item.label}: cannot be read ({exc.__class__.__name__})")
    return []


def split_of(piece_id: str, validation_fraction: float) -> str:
    """``"validation"`` for the pieces whose id hashes below the fraction, ``"train"`` for the others."""
    value = int(hashlib.sha256(piece_id.encode()).hexdigest()[:8], 16) / 2**32
    return "validation" if value < validation_fraction else "train"


# --- TFRecord framing (what tf.data.TFRecordDataset reads) -------------------------
def _masked_crc(data: bytes) -> int:
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC-32C, the data, its masked CRC-32C."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


def read_tfrecords(path: str | Path) -> Iterator[bytes]:
    """The records of a TFRecord file, checked (a damaged file raises DatasetError): for tests and tools that
    do not want TensorFlow."""
    with open(path, "rb") as f:
        while header := f.read(12):
            if len(header) < 12:
                raise DatasetError(f"{Path(path).name} is cut short")
            (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            data, (data_crc,) = f.read(length), struct.unpack("<I", f.read(4) or b"\0\0\0\0")
            if crc != _masked_crc(header[:8]) or data_crc != _masked_crc(data):
                raise DatasetError(f"{Path(path).name} is damaged (a checksum does not match)")
            yield data


# --- one shard: read, encode, write (a Beam element) -------------------------------
@dataclass(frozen=True)
class Settings:
    """What every shard of one prepared folder shares."""

    out: str
    encoding: dict
    validation_fraction: float
    key_normalization: bool

    def to_dict(self) -> dict:
        return {"encoding": self.encoding, "validation_fraction": self.validation_fraction,
                "key_normalization": self.key_normalization}


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.tfrecord"


def _summary_name(index: int) -> str:
    return f"shard-{index:05d}.json"


def write_shard(settings: Settings, index: int, items: Sequence[Sequence]) -> dict:
    """Read, encode and write one shard's inputs; returns its summary (also written, last: the sign it is done).

    Files are written under temporary names and renamed, so a shard interrupted half-way is made again."""
    from apache_beam.io.filesystems import FileSystems  # local paths, gs://, hdfs://, ... alike

    encoding = encoding_for(EncodingConfig.from_dict(settings.encoding))
    pieces, errors, seen = [], [], set()
    out: dict[str, Any] = {}
    tokens_seen: set[str] = set()
    try:
        for raw in items:
            item = Item(*raw)
            found: list[str] = []
            scores = read_item(item, found)
            errors += [{"input": item.label, "reason": reason} for reason in found]
            for k, score in enumerate(scores):
                score = score.without_drums()
                if not len(score):
                    continue
                if settings.key_normalization:
                    score = normalize_key(score)
                source = str(score.metadata.get("source") or item.label)
                piece_id = hashlib.sha1(f"{item.label}|{source}|{k}".encode()).hexdigest()[:16]
                if piece_id in seen:
                    continue
                seen.add(piece_id)
                tokens = encoding.encode(score)
                if any(not t or any(ch.isspace() for ch in t) for t in tokens):
                    raise BadConfig(f"the {encoding.name} encoding makes tokens with spaces; it cannot be sharded")
                split = split_of(piece_id, settings.validation_fraction)
                if split not in out:
                    out[split] = FileSystems.create(FileSystems.join(settings.out, shard_name(split, index) + ".tmp"))
                out[split].write(tfrecord(" ".join(tokens).encode("utf-8")))
                if not encoding.fixed_vocabulary:
                    tokens_seen.update(tokens)
                key = piece_key(score)
                pieces.append({"id": piece_id, "source": source, "split": split, "key": key.name if key else None,
                               "notes": len(score), "tokens": len(tokens), "shard": shard_name(split, index)})
    finally:
        for handle in out.values():
            handle.close()
    for split in out:
        target = FileSystems.join(settings.out, shard_name(split, index))
        if FileSystems.exists(target):
            FileSystems.delete([target])
        FileSystems.rename([target + ".tmp"], [target])
    summary = {"index": index, "pieces": pieces, "errors": errors, "tokens": sorted(tokens_seen),
               "shards": {split: shard_name(split, index) for split in out}}
    tmp = FileSystems.join(settings.out, _summary_name(index) + ".tmp")
    with FileSystems.create(tmp) as f:
        f.write(json.dumps(summary).encode("utf-8"))
    target = FileSystems.join(settings.out, _summary_name(index))
    if FileSystems.exists(target):
        FileSystems.delete([target])
    FileSystems.rename([tmp], [target])
    return {"index": index, "pieces": len(pieces), "errors": len(errors)}


# --- the pipeline ------------------------------------------------------------------
@dataclass(frozen=True)
class PrepareReport:
    """What one :func:`prepare` call did."""

    manifest: "ShardSet"
    shards_made: int
    shards_reused: int
    seconds: float


def prepare(
    sources: Sequence[str],
    out_dir: str | Path,
    *,
    encoding: EncodingConfig | None = None,
    validation_fraction: float = 0.1,
    key_normalization: bool = False,
    workers: int = 1,
    items_per_shard: int = DEFAULT_ITEMS_PER_SHARD,
    limit: int | None = None,
    runner: str = "DirectRunner",
    pipeline_args: Sequence[str] = (),
) -> PrepareReport:
    """Read ``sources``, encode every piece and write shards and a manifest into ``out_dir``; see the module.

    Parameters
    ----------
    sources
        Folders, files and ``corpus:NAME`` (see :func:`plan_items`).
    encoding, validation_fraction, key_normalization
        As for :func:`~neurotunes.dataset.split_dataset`: the encoding every piece is written in, the share of
        pieces held out for validation (chosen by each piece's id), and whether pieces move to C major / A minor.
    workers
        Processes of Beam's local runner (1: in this process).
    items_per_shard, limit
        Inputs per shard; at most ``limit`` inputs in all (None: every one).
    runner, pipeline_args
        Another Beam runner and its options (``--project=... --region=...`` for Dataflow, ...).

    Raises
    ------
    DatasetError
        No usable input, or ``out_dir`` was prepared from other sources or settings.
    """
    start = time.monotonic()
    encoding = encoding or EncodingConfig()
    if not 0 <= validation_fraction < 1:
        raise BadConfig("the validation fraction must be at least 0 and below 1")
    if workers < 1 or items_per_shard < 1:
        raise BadConfig("workers and inputs per shard must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = plan_items(sources, limit=limit)
    if not items:
        raise DatasetError("the sources hold no music files")
    settings = Settings(str(out.resolve()), encoding.to_dict(), float(validation_fraction), bool(key_normalization))
    plan = {"version": FORMAT_VERSION, "sources": list(sources), "limit": limit, "items_per_shard": items_per_shard,
            "settings": settings.to_dict(), "items": len(items),
            "digest": hashlib.sha256(json.dumps([i.to_list() for i in items]).encode()).hexdigest()}
    plan_file = out / PLAN
    if plan_file.exists():
        try:
            earlier = json.loads(plan_file.read_text())
        except ValueError:
            earlier = None
        if earlier != plan:
            raise DatasetError(f"{out} holds shards prepared from other sources or settings; "
                               "give a new folder (or empty this one)")
    else:
        _write_json(plan_file, plan)
    chunks = [(i, [item.to_list() for item in items[s:s + items_per_shard]])
              for i, s in enumerate(range(0, len(items), items_per_shard))]
    todo = [c for c in chunks if not (out / _summary_name(c[0])).exists()]
    log.info("%d inputs in %d shards: %d to make, %d done before", len(items), len(chunks), len(todo),
             len(chunks) - len(todo))
    if todo:
        _run_pipeline(settings, todo, workers=workers, runner=runner, pipeline_args=pipeline_args)
    manifest = _assemble(out, settings, plan, len(chunks))
    return PrepareReport(manifest, len(todo), len(chunks) - len(todo), time.monotonic() - start)


class _WriteShard:
    """The pipeline's one step, as a picklable callable (Beam ships it to its workers)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(self, chunk: tuple[int, list]) -> dict:
        index, items = chunk
        return write_shard(self.settings, index, items)


def _run_pipeline(settings: Settings, todo: list, *, workers: int, runner: str, pipeline_args: Sequence[str]) -> None:
    quiet_beam()
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    options: dict[str, Any] = {"runner": runner}
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # the workers log every step at INFO
        options["default_sdk_harness_log_level"] = "ERROR"
    if runner == "DirectRunner":
        options.update(direct_num_workers=workers,
                       direct_running_mode="multi_processing" if workers > 1 else "in_memory")
    with beam.Pipeline(options=PipelineOptions(list(pipeline_args), **options)) as pipeline:
        (pipeline
         | "shards" >> beam.Create(todo)
         | "spread" >> beam.Reshuffle()
         | "read, encode, write" >> beam.Map(_WriteShard(settings)))


def _write_json(path: Path, content: Any) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(content, indent=1))
    tmp.replace(path)


def _assemble(out: Path, settings: Settings, plan: dict, shards: int) -> "ShardSet":
    pieces, errors, tokens = [], [], set()
    files: dict[str, list[str]] = {split: [] for split in SPLITS}
    for index in range(shards):
        summary = json.loads((out / _summary_name(index)).read_text())
        pieces += summary["pieces"]
        errors += summary["errors"]
        tokens.update(summary["tokens"])
        for split, name in summary["shards"].items():
            files[split].append(name)
    if not pieces:
        reasons = "; ".join(e["reason"] for e in errors[:3])
        raise DatasetError("no input gave a usable piece" + (f" ({reasons})" if reasons else ""))
    config = EncodingConfig.from_dict(settings.encoding)
    encoding = encoding_for(config)
    vocab = encoding.vocabulary() if encoding.fixed_vocabulary else Vocabulary([BOS, *sorted(tokens - {BOS})])
    totals = {split: {"pieces": sum(p["split"] == split for p in pieces),
                      "notes": sum(p["notes"] for p in pieces if p["split"] == split),
                      "tokens": sum(p["tokens"] for p in pieces if p["split"] == split)} for split in SPLITS}
    manifest = {"version": FORMAT_VERSION, "sources": plan["sources"], "encoding": settings.encoding,
                "key_normalized": settings.key_normalization, "validation_fraction": settings.validation_fraction,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "inputs": plan["items"], "totals": totals,
                "shards": files, "vocabulary": list(vocab.tokens), "errors": errors, "pieces": pieces}
    _write_json(out / MANIFEST, manifest)
    return ShardSet.load(out)


# --- reading a prepared folder -------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ShardSet:
    """A prepared folder: its manifest, read and checked (:meth:`load`), and its pieces as training windows."""

    folder: Path
    encoding: EncodingConfig
    vocab: Vocabulary
    files: Mapping[str, tuple[str, ...]]
    totals: Mapping[str, Mapping[str, int]]
    key_normalized: bool
    sources: tuple[str, ...]
    errors: tuple[Mapping[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def load(cls, folder: str | Path) -> "ShardSet":
        """Read ``folder/manifest.json``.

        Raises
        ------
        DatasetError
            No manifest (not prepared, or not finished), an unreadable one, or shard files missing.
        """
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise DatasetError(f"{folder} has no {MANIFEST}: prepare it with `neurotunes prepare SRC... -o "
                               f"{folder.name}` (a run that was interrupted finishes when run again)")
        try:
            data = json.loads(path.read_text())
            if data.get("version") != FORMAT_VERSION:
                raise DatasetError(f"{folder.name} was prepared by another release (format "
                                   f"{data.get('version')!r}); prepare it again")
            files = {split: tuple(data["shards"].get(split, ())) for split in SPLITS}
            shard_set = cls(folder=folder, encoding=EncodingConfig.from_dict(data["encoding"]),
                            vocab=Vocabulary(data["vocabulary"]), files=files,
                            totals={s: dict(data["totals"][s]) for s in SPLITS},
                            key_normalized=bool(data["key_normalized"]), sources=tuple(data["sources"]),
                            errors=tuple(data.get("errors", ())))
        except (ValueError, KeyError, TypeError, BadConfig) as exc:
            raise DatasetError(f"{folder.name}/{MANIFEST} is not a readable manifest ({exc})") from None
        encoding_for(shard_set.encoding).check_vocabulary(shard_set.vocab)  # a fixed vocabulary must be the config's
        missing = [name for names in files.values() for name in names if not (folder / name).is_file()]
        if missing:
            raise DatasetError(f"{folder.name} is missing {len(missing)} shard file(s), e.g. {missing[0]}; "
                               "prepare it again")
        return shard_set

    def paths(self, split: str) -> list[str]:
        return [str(self.folder / name) for name in self.files[split]]

    @property
    def has_validation(self) -> bool:
        return self.windows_in("validation", 1) > 0

    def windows_in(self, split: str, sequence_length: int) -> int:
        """How many training windows of ``sequence_length`` the split's token stream gives (as
        :func:`~neurotunes.dataset.make_windows` cuts them: overlapping by one token)."""
        return max((int(self.totals[split]["tokens"]) - 1) // sequence_length, 0)

    def notes_per_token(self, split: str = "validation") -> float:
        """Notes per predicted token (BOS never is one), as :meth:`Encoding.notes_per_token` counts."""
        t = self.totals[split]
        return t["notes"] / max(t["tokens"] - t["pieces"], 1)

    def stats(self) -> DatasetStats:
        """The counts a model bundle records about its data (as :meth:`Dataset.stats` gives them)."""
        t, v = self.totals["train"], self.totals["validation"]
        return DatasetStats(pieces_train=t["pieces"], pieces_validation=v["pieces"], notes=t["notes"] + v["notes"],
                            tokens=t["tokens"] + v["tokens"], vocabulary_size=len(self.vocab),
                            description=f"shards from {', '.join(self.sources)}", key_normalized=self.key_normalized)

    def windows(self, split: str, sequence_length: int, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                shuffle_buffer: int = 2048, repeat: bool = False, whole_batches: bool = True):
        """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches streamed from the split's shards.

        Shard files are read several at a time (interleave) in an order shuffled each epoch; each piece's
        tokens become ids (a lookup table from the manifest's vocabulary); the pieces' tokens, back to back,
        are cut into windows of ``sequence_length + 1`` that overlap by one token, shuffled in a buffer of
        ``shuffle_buffer`` windows, batched (whole batches only, unless ``whole_batches`` is False) and prefetched.  Memory holds the buffer,
        not the corpus.
        """
        tf = import_tensorflow()
        paths = self.paths(split)
        if not paths:
            raise DatasetError(f"the shards hold no {split} pieces")
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(self.vocab.tokens)),
                                                tf.range(len(self.vocab), dtype=tf.int32)),
            default_value=-1)
        files = tf.data.Dataset.from_tensor_slices(paths)
        if shuffle:
            files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        records = files.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(paths)),
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        def to_ids(record):
            ids = table.lookup(tf.strings.split(record, " "))
            return tf.boolean_mask(ids, ids >= 0)  # a token the vocabulary lacks is dropped

        def as_batch(window):
            return window.batch(sequence_length + 1)

        def to_pair(window):
            return window[:-1], window[1:]

        stream = records.map(to_ids, num_parallel_calls=tf.data.AUTOTUNE).flat_map(tf.data.Dataset.from_tensor_slices)
        # Windows of sequence_length + 1 tokens overlapping by one: every token but the first is a target once.
        windows = stream.window(sequence_length + 1, shift=sequence_length, drop_remainder=True)
        windows = windows.flat_map(as_batch).map(to_pair)
        if shuffle:
            windows = windows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        batches = windows.batch(batch_size, drop_remainder=whole_batches)
        if repeat:
            batches = batches.repeat()
        return batches.prefetch(tf.data.AUTOTUNE)
