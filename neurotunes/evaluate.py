"""Is this model any good?  Generate samples, measure them, compare them with real music.

:func:`evaluate_models` generates ``samples`` pieces from each model, measures
every piece with :func:`neurotunes.metrics.piece_features`, compares each set
with a reference set of real pieces (Yang & Lerch's overlapping area and KL
divergence, :func:`neurotunes.metrics.compare_sets`) and scores each model on
the reference pieces (NLL per note, perplexity, next-note pitch accuracy).

Reference sets are real pieces no shipped model trained on: the held-out 10% of
the split each shipped model was trained with (same seed), or the validation
pieces of the user's own dataset.

:func:`classic_generate` is Classical-Piano-Composer's sampling loop, kept as
the baseline: a window of 100 real tokens, the most likely next token every
time (argmax), the window slid one token, every chord half a beat after the last.

Given the training side of the split too (``pool``), each model also gets a
realism report (:mod:`neurotunes.realism`): on nine measures, is its set of
pieces inside the range of real sets of the same size, and how often does a
classifier tell its pieces from real ones?
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import constants as C
from . import realism
from .bundle import BundleMetrics, ModelBundle
from .config import GenerateConfig
from .corpus import CORPORA, corpus_paths, held_out_sources, load_corpus, load_corpus_file
from .dataset import normalize_key, split_dataset
from .encodings import ClassicEncoding, encoding_for
from .errors import BadConfig, NeuroTunesError
from .generate import compose, single_threaded_blas
from .metrics import (DISTRIBUTION_FEATURES, FEATURE_LABELS, SetComparison, compare_sets, model_metrics,
                      piece_features)
from .models import make_stepper
from .realism import MeasuredSet, RealismReport, judge, measure_set, take_length
from .score import Score

#: ``(what is being done, pieces done, pieces in all)``: progress that counts pieces, phase by phase.
Steps = Callable[[str, int, int], None]

log = logging.getLogger(__name__)

#: At most this many samples per model in one evaluation (each is a full generation).
MAX_SAMPLES = 200
#: NLL and accuracy are measured on at most this many tokens of the reference pieces.
MAX_METRIC_TOKENS = 60_000
#: Classical-Piano-Composer's window: 100 tokens in, one token out.
CLASSIC_WINDOW = 100

#: name -> (label, music21 corpus, pieces (0 = all)): the held-out part of the split each shipped model used.
REFERENCE_SETS = {
    "bach": ("Bach chorales (held out from training)", "bach", 0),
    "fiddle": ("Fiddle tunes (held out from training)", "ryansMammoth", 300),
}
#: How a verdict names each reference set's music: "passes for Bach on 7 of 9 measures".
REFERENCE_SHORT_NAMES = {"bach": "Bach", "fiddle": "fiddle tunes"}
#: The pieces themselves, in the page's headline: "Closest to real chorales: ...".
REFERENCE_MUSIC = {"bach": "chorales", "fiddle": "fiddle tunes"}
#: The reference set each shipped model learned from (constants.SHIPPED_MODELS): like is compared with like.
SHIPPED_MODEL_REFERENCE = {"default": "bach", "fiddle": "fiddle", "lstm": "bach"}
#: The split every shipped model was trained with (scripts/train_shipped.py): the same seed and fraction.
SPLIT_SEED = 0
VALIDATION_FRACTION = 0.1


def reference_split(name: str, *, progress: Callable[[int, int], None] | None = None
                    ) -> tuple[list[Score], list[Score]]:
    """``(training side, held out)``: both sides of the split behind a named reference set (see
    :data:`REFERENCE_SETS`), parsed once and cached on disk.  The held-out pieces are the reference; the
    training side is where realism draws its sets of real pieces from."""
    if name not in REFERENCE_SETS:
        raise BadConfig(f"unknown reference set {name!r}; choose one of: {', '.join(REFERENCE_SETS)}")
    _, corpus, limit = REFERENCE_SETS[name]
    scores = load_corpus(corpus, limit=limit or None, progress=progress)
    split = split_dataset(scores, validation_fraction=VALIDATION_FRACTION, seed=SPLIT_SEED)
    return list(split.train), list(split.validation)


def reference_set(name: str, *, progress: Callable[[int, int], None] | None = None) -> list[Score]:
    """The real pieces of a named reference set (see :data:`REFERENCE_SETS`), parsed once and cached on disk."""
    return reference_split(name, progress=progress)[1]


def home_reference(model: str, bundle: ModelBundle | None = None) -> str | None:
    """The reference set of the music a model learned (a key of :data:`REFERENCE_SETS`), or None when it
    learned something else: a shipped model's own, else the corpus its dataset was read from."""
    if model in SHIPPED_MODEL_REFERENCE:
        return SHIPPED_MODEL_REFERENCE[model]
    description = bundle.info.dataset.description if bundle is not None and bundle.info.dataset else ""
    for name, (_, corpus, _) in REFERENCE_SETS.items():
        if CORPORA[corpus].title in (description or ""):
            return name
    return None


def held_out_pieces(name: str, *, progress: Callable[[int, int], None] | None = None) -> list[Score]:
    """The held-out pieces of a named reference set, read by their sources (assets/held_out.json) without
    reading the rest of the corpus; ``progress(files read, files to read)``.  The same pieces, in the same
    order, as ``reference_split(name)[1]``."""
    if name not in REFERENCE_SETS:
        raise BadConfig(f"unknown reference set {name!r}; choose one of: {', '.join(REFERENCE_SETS)}")
    corpus = REFERENCE_SETS[name][1]
    wanted = held_out_sources(corpus)
    files = {source.removeprefix("music21:").split("#")[0] for source in wanted}
    paths = [path for path in corpus_paths(corpus) if Path(path).name in files]
    pieces: list[Score] = []
    for i, path in enumerate(paths):
        pieces += [s.without_drums() for s in load_corpus_file(path) if s.metadata.get("source") in wanted]
        if progress:
            progress(i + 1, len(paths))
    if len(pieces) != len(wanted):  # the shipped list and this music21 disagree: split the corpus as the models did
        log.warning("held-out list of %s names %d pieces, found %d: reading the whole corpus", name, len(wanted),
                    len(pieces))
        return reference_split(name)[1]
    return [s for s in pieces if len(s)]


#: The reference sets measured once (scripts/reference_measures.py): the held-out pieces' features and both
#: sides' realism measures at the page's default note count, in C major / A minor, as the shipped models write.
REFERENCE_MEASURES_FILE = C.ASSETS_DIR / "reference_measures.json.gz"
REFERENCE_MEASURES_FORMAT = 1
#: The note count and key space shipped (Evaluate's default "Notes per piece"; both shipped models are
#: key-normalized).  Others are measured on first use, with progress, and kept on disk.
SHIPPED_MEASURES_NOTES = 200
SHIPPED_MEASURES_KEY_NORMALIZED = True
#: Pieces measured between two progress reports.
_MEASURE_CHUNK = 8


def measured_to_dict(measured: MeasuredSet) -> dict[str, Any]:
    """A measured set as plain JSON (values rounded to 6 decimals; NaN where a piece lacks a measure)."""
    def plain(values: np.ndarray) -> Any:
        return np.round(values.astype(float), 6).tolist()

    return {"values": {m: plain(v) for m, v in measured.values.items()}, "chords": measured.chords.tolist(),
            "notes": measured.notes}


def measured_from_dict(data: Mapping[str, Any]) -> MeasuredSet:
    values = {m: np.array(data["values"][m], dtype=float) for m in realism.MEASURES}
    return MeasuredSet(values, np.array(data["chords"], dtype=np.int64).reshape(-1, 2), int(data["notes"]))


def _features_to_json(features: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple, np.ndarray)):
            return [plain(v) for v in value]
        if isinstance(value, (float, np.floating)):
            return round(float(value), 6)
        return int(value) if isinstance(value, (np.integer,)) else value

    return [{k: plain(v) for k, v in f.items()} for f in features]


_shipped_lock = threading.Lock()
_shipped: dict[str, Any] = {}


def shipped_measures() -> dict[str, Any]:
    """The shipped measurements by reference set (empty when the file is missing or unreadable)."""
    with _shipped_lock:
        if "sets" not in _shipped:
            try:
                data = json.loads(gzip.decompress(REFERENCE_MEASURES_FILE.read_bytes()))
                ok = data.get("format") == REFERENCE_MEASURES_FORMAT
                _shipped["sets"] = data["sets"] if ok else {}
            except (OSError, ValueError, KeyError, EOFError) as exc:
                log.warning("cannot read %s (%s): measuring the reference sets on first use",
                            REFERENCE_MEASURES_FILE.name, exc)
                _shipped["sets"] = {}
        return _shipped["sets"]


def _shipped_set(name: str) -> dict[str, Any] | None:
    """A reference set's shipped measurements, if they describe today's held-out pieces."""
    entry = shipped_measures().get(name)
    if entry is None or set(entry.get("held_out", ())) != held_out_sources(REFERENCE_SETS[name][1]):
        return None
    return entry


def reference_features(name: str | None, pieces: Sequence[Score], *, on_step: Steps | None = None
                       ) -> list[dict[str, Any]]:
    """:func:`~neurotunes.metrics.piece_features` of each reference piece: shipped for a named set (music21's
    harmony takes about a second a chorale), else measured piece by piece."""
    entry = _shipped_set(name) if name in REFERENCE_SETS else None
    if entry is not None and len(entry["features"]) == len(pieces):
        return [dict(f) for f in entry["features"]]
    return list(_each(pieces, piece_features, "Measuring the real pieces", on_step))


def _each(items: Sequence[Any], work: Callable[[Any], Any], what: str, on_step: Steps | None) -> Iterator[Any]:
    for i, item in enumerate(items):
        yield work(item)
        if on_step:
            on_step(what, i + 1, len(items))


def measure_with_progress(scores: Sequence[Score], notes: int, *, key_normalized: bool,
                          what: str = "Measuring the real pieces", on_step: Steps | None = None) -> MeasuredSet:
    """:func:`~neurotunes.realism.measure_set` (after moving the pieces to C major / A minor when
    ``key_normalized``), reporting every few pieces."""
    scores = [normalize_key(s) for s in scores] if key_normalized else list(scores)
    parts = []
    for start in range(0, len(scores), _MEASURE_CHUNK):
        chunk = [s for s in scores[start:start + _MEASURE_CHUNK] if s.pitch_list()]
        if chunk:
            parts.append(measure_set(chunk, notes))
        if on_step:
            on_step(what, min(start + _MEASURE_CHUNK, len(scores)), len(scores))
    if not parts:
        raise BadConfig("there are no pieces with notes to measure")
    return MeasuredSet({m: np.concatenate([p.values[m] for p in parts]) for m in realism.MEASURES},
                       np.concatenate([p.chords for p in parts]), notes)


_reference_measures: OrderedDict[tuple[str, int, bool], tuple[MeasuredSet, MeasuredSet]] = OrderedDict()
_reference_lock = threading.Lock()


def _measures_cache_file(name: str, notes: int, key_normalized: bool) -> Path:
    """Where measurements not shipped are kept once made: named by everything they depend on (the held-out
    list and realism.py itself), so a change measures again instead of reading stale figures."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(f"{REFERENCE_MEASURES_FORMAT}|{name}|{notes}|{key_normalized}|".encode())
    digest.update("|".join(sorted(held_out_sources(REFERENCE_SETS[name][1]))).encode())
    digest.update(Path(realism.__file__).read_bytes())
    return C.data_dir() / "cache" / "reference-measures" / f"{name}-{notes}-{digest.hexdigest()}.npz"


def _load_measures(path: Path) -> tuple[MeasuredSet, MeasuredSet] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return tuple(MeasuredSet({m: data[f"{side}:{m}"] for m in realism.MEASURES}, data[f"{side}:chords"],
                                     int(data["notes"])) for side in ("reference", "pool"))
    except (OSError, ValueError, KeyError):
        return None


def _save_measures(path: Path, measured: tuple[MeasuredSet, MeasuredSet]) -> None:
    arrays = {"notes": np.array(measured[0].notes)}
    for side, m in zip(("reference", "pool"), measured):
        arrays.update({f"{side}:{k}": v for k, v in m.values.items()})
        arrays[f"{side}:chords"] = m.chords
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{threading.get_ident()}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
    except OSError as exc:
        log.debug("cannot keep reference measures in %s: %s", path, exc)


def reference_measures(name: str, notes: int, *, key_normalized: bool, held_out: Sequence[Score] | None = None,
                       on_step: Steps | None = None) -> tuple[MeasuredSet, MeasuredSet]:
    """``(held-out pieces, training side)`` of a named reference set measured for realism at ``notes`` notes:
    shipped (the default note count), kept on disk from an earlier evaluation, or measured now -- reading the
    training side and measuring it piece by piece, with ``on_step`` -- and kept."""
    key = (name, int(notes), bool(key_normalized))
    with _reference_lock:
        if key in _reference_measures:
            _reference_measures.move_to_end(key)
            return _reference_measures[key]
    found = None
    entry = _shipped_set(name)
    if entry is not None and notes == SHIPPED_MEASURES_NOTES and key_normalized == SHIPPED_MEASURES_KEY_NORMALIZED:
        found = (measured_from_dict(entry["reference"]), measured_from_dict(entry["pool"]))
    cache = _measures_cache_file(name, notes, key_normalized)
    if found is None:
        found = _load_measures(cache)
    if found is None:
        reading = "Reading the real pieces"
        pool, reference = reference_split(name, progress=on_step and (lambda i, n: on_step(reading, i, n)))
        found = (measure_with_progress(held_out if held_out is not None else reference, notes,
                                       key_normalized=key_normalized, what="Measuring the held-out pieces",
                                       on_step=on_step),
                 measure_with_progress(pool, notes, key_normalized=key_normalized,
                                       what="Measuring the real range", on_step=on_step))
        _save_measures(cache, found)
    with _reference_lock:
        _reference_measures[key] = found
        while len(_reference_measures) > _MEASURED_KEEP:
            _reference_measures.popitem(last=False)
    return found


#: Measured real sets kept per process (a reference set and its training side, per note count and key space):
#: measuring 413 chorales takes about 6 s on one core, judging a model against them then about 1 s.
_MEASURED_KEEP = 8
_measured: OrderedDict[tuple[str, int, bool], MeasuredSet] = OrderedDict()
_measured_lock = threading.Lock()


def _fingerprint(scores: Sequence[Score]) -> str:
    """A digest of the pieces' notes: the same pieces, loaded again, find their measures in the cache."""
    digest = hashlib.blake2b(digest_size=16)
    for s in scores:
        digest.update(np.array([(n.start, n.end, n.pitch) for n in s.notes], dtype=np.float64).tobytes())
        digest.update(b"|%r" % s.tempo_bpm)
    return digest.hexdigest()


def measured_real(scores: Sequence[Score], notes: int, *, key_normalized: bool) -> MeasuredSet:
    """Real pieces measured for realism: cut to ``notes`` notes, moved to C major / A minor first when the
    model being judged was trained that way.  Cached by content, so a page's second evaluation is quick."""
    key = (_fingerprint(scores), notes, key_normalized)
    with _measured_lock:
        if key in _measured:
            _measured.move_to_end(key)
            return _measured[key]
    measured = measure_set([normalize_key(s) for s in scores] if key_normalized else scores, notes)
    with _measured_lock:
        _measured[key] = measured
        while len(_measured) > _MEASURED_KEEP:
            _measured.popitem(last=False)
    return measured


def check_sample_count(samples: int) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise BadConfig(f"ask for 1 to {MAX_SAMPLES} samples per model, not {samples!r}")
    return samples


@dataclass
class ModelReport:
    """One model's samples, their features and how they compare with the reference."""

    name: str
    features: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[SetComparison] = field(default_factory=list)
    model: dict[str, float] = field(default_factory=dict)  # NLL per note, perplexity, pitch accuracy
    empty_samples: int = 0
    error: str | None = None
    pieces: list[Score] = field(default_factory=list)  # the samples with notes, to listen to
    realism: RealismReport | None = None  # against the real range (when the training side was given)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "error": self.error,
            "samples": len(self.features),
            "empty_samples": self.empty_samples,
            "model": self.model,
            "distributions": {c.feature: {"overlap": round(c.overlap, 4), "kl_divergence": round(c.kl_divergence, 4),
                                          "mean": c.mean, "reference_mean": c.reference_mean}
                              for c in self.comparisons},
            "means": feature_means(self.features),
            "realism": self.realism.to_dict() if self.realism else None,
        }


@dataclass
class Evaluation:
    reference_name: str
    reference_features: list[dict[str, Any]]
    models: list[ModelReport]
    corpus_name: str = "the real pieces"  # how verdicts name the reference's music ("Bach")
    music_name: str = "pieces"  # how the headline names the reference's pieces ("real chorales")

    @property
    def measured(self) -> list[ModelReport]:
        """The models that produced pieces to compare (a failed model says why in its ``error``)."""
        return [m for m in self.models if not m.error]

    def distance_table(self, *, short: Callable[[str], str] = str) -> list[dict[str, Any]]:
        """One row per distribution feature: each measured model's overlapping area (OA) and KL divergence
        against the reference, and, with several models, the closest one (highest OA).  ``short`` shortens
        a model's name for the column headers."""
        by_feature = {m.name: {c.feature: c for c in m.comparisons} for m in self.measured}
        rows = []
        for feature in DISTRIBUTION_FEATURES:
            row: dict[str, Any] = {"metric": FEATURE_LABELS[feature]}
            for m in self.measured:
                c = by_feature[m.name][feature]
                row[f"{short(m.name)} OA"] = round(c.overlap, 3)
                row[f"{short(m.name)} KL"] = round(c.kl_divergence, 3)
            if len(self.measured) > 1:
                row["closest"] = short(max(self.measured, key=lambda m: by_feature[m.name][feature].overlap).name)
            rows.append(row)
        return rows

    def model_table(self) -> list[dict[str, Any]]:
        """One row per measured model: how well it predicts the reference pieces and, with a realism report,
        on how many measures its set is inside the real range, how often a classifier spots its pieces and
        how often it tells real pieces from real ones (the floor)."""
        rows = []
        for m in self.measured:
            row = {"model": m.name, "NLL per note (nats)": m.model.get("nll_per_note"),
                   "perplexity per token": m.model.get("perplexity_per_token"),
                   "next-note pitch accuracy": m.model.get("pitch_accuracy"), "pieces measured": len(m.features)}
            if m.realism:
                r = m.realism
                row.update({"inside the real range": f"{r.inside_count} of {len(r.applicable)}",
                            "classifier spots it": r.classifier_accuracy,
                            "real vs real": r.real_vs_real_accuracy})
            rows.append(row)
        return rows

    def verdicts(self) -> list[tuple[str, str, bool]]:
        """``(model, verdict, passes)`` for each model with a realism report: "passes for Bach on 7 of 9
        measures; a classifier spots it 71% of the time (real vs real: 52%)"."""
        return [(m.name, m.realism.verdict(self.corpus_name), m.realism.passes) for m in self.measured if m.realism]

    def closest(self) -> ModelReport | None:
        """The model whose pieces are closest to the real ones: inside the real range on the most measures,
        then the one a classifier spots least often; without realism reports, the highest mean overlap."""
        judged = [m for m in self.measured if m.realism]
        if judged:
            def rank(m: ModelReport) -> tuple[float, float]:
                r = m.realism
                spotted = r.classifier_accuracy if r.classifier_accuracy is not None else 1.0
                return (-r.inside_count / max(len(r.applicable), 1), spotted)

            return min(judged, key=rank)
        compared = [m for m in self.measured if m.comparisons]
        return max(compared, key=lambda m: float(np.mean([c.overlap for c in m.comparisons])), default=None)

    def headline(self, *, short: Callable[[str], str] = str) -> str | None:
        """The page's verdict in one plain sentence: "Closest to real chorales: <model> — passes for Bach on 7
        of 9 measures; a classifier spots it 71% of the time" (one model: "Against real chorales: ...")."""
        best = self.closest()
        if best is None:
            return None
        lead = "Closest to" if len(self.measured) > 1 else "Against"
        return f"{lead} real {self.music_name}: {short(best.name)} — {self.plain_verdict(best)}"

    def plain_verdict(self, report: ModelReport) -> str:
        """One model's verdict without figures a hobbyist must look up."""
        r = report.realism
        if r is None:
            overlap = float(np.mean([c.overlap for c in report.comparisons])) if report.comparisons else 0.0
            return f"its pieces overlap the real ones {overlap:.0%} on average (100% would be like real music)"
        text = f"passes for {self.corpus_name} on {r.inside_count} of {len(r.applicable)} measures"
        if r.classifier_accuracy is not None:
            text += f"; a classifier spots it {r.classifier_accuracy:.0%} of the time"
        return text

    def conclusion(self, report: ModelReport) -> str:
        """What the verdict means, in words: it passes for real, or where it is furthest off."""
        r = report.realism
        if r is None:
            return ""
        if r.passes:
            return "It passes for real music: inside the real range everywhere, and a classifier can only guess."
        outside = sorted((m for m in r.applicable if not m.inside), key=lambda m: -m.ratio)
        parts = []
        if outside:
            parts.append("furthest off: " + ", ".join(realism.MEASURE_LABELS[m.measure] for m in outside[:3]))
        if not r.classifier_fooled and r.classifier_accuracy is not None:
            floor = (f" (real pieces told from real pieces: {r.real_vs_real_accuracy:.0%}, a guess)"
                     if r.real_vs_real_accuracy is not None else "")
            parts.append(f"a classifier tells it from real music {r.classifier_accuracy:.0%} of the time{floor}")
        if not r.chord_share_close and r.chord_share is not None and r.reference_chord_share is not None:
            parts.append(f"{r.chord_share:.0%} of its chords fit the key, against {r.reference_chord_share:.0%} "
                         "in the real pieces")
        return "Not yet mistaken for real music — " + "; ".join(parts) + "." if parts else ""

    def realism_table(self, *, short: Callable[[str], str] = str) -> list[dict[str, Any]]:
        """One row per realism measure: for each model, how many times further from the reference than a
        typical real set of the same size it is, and whether it is inside the real range."""
        judged = [m for m in self.measured if m.realism]
        if not judged:
            return []
        rows = [{"measure": r["measure"]} for r in judged[0].realism.rows()]
        for m in judged:
            for row, r in zip(rows, m.realism.rows()):
                row[f"{short(m.name)} x real"] = r["x real median"]
                row[f"{short(m.name)} inside"] = r["inside"]
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": {"name": self.reference_name, "pieces": len(self.reference_features),
                          "means": feature_means(self.reference_features), "corpus": self.corpus_name,
                          "music": self.music_name},
            "headline": self.headline(),
            "models": [m.to_dict() for m in self.models],
        }


def feature_means(features: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The mean of every scalar feature over a set (features a piece lacks are left out)."""
    means = {}
    for key in (features[0] if features else {}):
        values = [f[key] for f in features if isinstance(f.get(key), (int, float))]
        if values and not isinstance(features[0].get(key), list):
            means[key] = round(float(np.mean(values)), 4)
    return means


def sample_model(
    bundle: ModelBundle,
    config: GenerateConfig,
    samples: int,
    *,
    on_sample: Callable[[int], None] | None = None,
) -> list[Score]:
    """``samples`` takes with seeds ``seed, seed + 1, ...`` (each reproducible on its own)."""
    takes = compose(bundle, config, count=check_sample_count(samples), on_take=on_sample, max_count=MAX_SAMPLES)
    return [take.score for take in takes]


def classic_generate(bundle: ModelBundle, window: Sequence[int], notes: int, *, tempo_bpm: float = 100.0) -> Score:
    """Classical-Piano-Composer's loop on a classic-encoding model.

    Start from ``window`` (token ids of real music), repeatedly run the model on
    the last :data:`CLASSIC_WINDOW` tokens from a fresh state, append the most
    likely token (argmax) and slide on, until ``notes`` notes exist; decode with
    every token half a beat after the previous one (each note a beat long).
    """
    encoding = encoding_for(bundle.encoding)
    if not isinstance(encoding, ClassicEncoding):
        raise BadConfig(f"the classic loop needs a model trained on the classic encoding, not {encoding.name!r}")
    vocab = bundle.vocab
    bos = vocab.index[encoding.bos]
    stepper = make_stepper(bundle)
    pattern = [int(t) for t in window][-CLASSIC_WINDOW:]
    out: list[str] = []
    count = 0
    with single_threaded_blas():
        while count < notes:
            stepper.reset()
            for t in pattern:
                logits = stepper.step(t)
            logits = np.array(logits, dtype=np.float64)
            logits[bos] = -np.inf  # CPC's vocabulary has no start token to emit
            token = int(np.argmax(logits))
            out.append(vocab.tokens[token])
            count += encoding.count_notes([vocab.tokens[token]])
            pattern = pattern[1:] + [token]
    return encoding.decode(out, tempo_bpm=tempo_bpm, metadata={"source": f"classic loop on {bundle.name}"})


def _model_space(bundle: ModelBundle, scores: Sequence[Score]) -> list[Score]:
    """Reference pieces as the model was trained to read them (moved to C major / A minor if it was)."""
    if not bundle.key_normalized:
        return list(scores)
    return [normalize_key(s) for s in scores]


def evaluate_models(
    models: Mapping[str, ModelBundle | Sequence[Score]],
    reference: Sequence[Score],
    *,
    reference_name: str = "reference",
    samples: int = 20,
    config: GenerateConfig | Mapping[str, Any] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    pool: Sequence[Score] = (),
    corpus_name: str = "the real pieces",
    music_name: str = "pieces",
    known_features: Sequence[Mapping[str, Any]] | None = None,
    real_measures: Callable[[int, bool], tuple[MeasuredSet, MeasuredSet]] | None = None,
    on_step: Steps | None = None,
) -> Evaluation:
    """Generate, measure and compare.

    Parameters
    ----------
    models
        name -> a model bundle (sampled here with ``config``) or a list of pieces
        already made (e.g. by :func:`classic_generate`).
    config
        The sampler's settings: a :class:`GenerateConfig` every model uses as it is, or the settings chosen
        (a mapping, ``{}`` when None) that each model completes with its own suggestions
        (:meth:`~neurotunes.bundle.ModelBundle.generate_config`): each model at its best unless told otherwise.
    reference
        Real pieces to compare with; at least two.
    samples
        Pieces per model, 1 to :data:`MAX_SAMPLES`.
    on_progress
        Called with ``(model name, done, total)`` after each sample.
    pool
        Real pieces of the same kind that are not in ``reference`` (the training side of its split): given,
        every model also gets a realism report (:func:`neurotunes.realism.judge`), its real range drawn
        from these pieces; each real piece is cut to the model's note count and, for a model trained on
        pieces moved to C major / A minor, moved there too.
    corpus_name, music_name
        How the realism verdicts name the reference's music ("passes for Bach on ...") and how the headline
        names its pieces ("Closest to real chorales: ...").
    known_features
        :func:`~neurotunes.metrics.piece_features` of the reference pieces with notes, already measured
        (:func:`reference_features`); measured here otherwise.
    real_measures
        ``(notes, key_normalized) -> (measured reference, measured real range)`` for realism instead of
        measuring ``reference`` and ``pool`` here (:func:`reference_measures`: shipped or kept on disk).
    on_step
        Called with ``(what, pieces done, pieces in all)`` after each piece of every phase: measuring the
        reference, and for each model composing, scoring the reference pieces, measuring its pieces.

    A model that fails, or whose samples have no notes, gets ``error`` set and
    the others are still evaluated.

    Raises
    ------
    BadConfig
        An empty (or one-piece) reference set, no models, or a sample count out of range.
    """
    reference = [s for s in reference if s.pitch_list()]
    pool = [s for s in pool if s.pitch_list()]
    if len(reference) < 2:
        raise BadConfig("the reference set needs at least two pieces with notes to compare against")
    if not models:
        raise BadConfig("choose at least one model to evaluate")
    check_sample_count(samples)
    chosen = {} if config is None else config
    if known_features is not None and len(known_features) == len(reference):
        features_of_reference = [dict(f) for f in known_features]
    else:
        features_of_reference = list(_each(reference, piece_features, "Measuring the real pieces", on_step))
    reports = []
    for name, source in models.items():
        report = ModelReport(name)
        reports.append(report)

        def composed(i: int, n: str = name) -> None:
            if on_progress:
                on_progress(n, i, samples)
            if on_step:
                on_step(f"{n}: composing", i, samples)

        try:
            if isinstance(source, ModelBundle):
                settings = chosen if isinstance(chosen, GenerateConfig) else source.generate_config(**chosen)
                pieces = sample_model(source, settings, samples, on_sample=composed)
                scored = _counted(_model_space(source, reference), f"{name}: predicting the real pieces", on_step)
                report.model = {k: round(float(v), 4) for k, v in
                                model_metrics(source, scored, max_tokens=MAX_METRIC_TOKENS).items()}
            else:
                pieces = list(source)
                if on_progress:
                    on_progress(name, len(pieces), len(pieces))
        except BadConfig as exc:
            report.error = f"{name}: {exc}"
            continue
        with_notes = [p for p in pieces if p.pitch_list()]
        report.empty_samples = len(pieces) - len(with_notes)
        if not with_notes:
            report.error = f"{name} produced no notes in {len(pieces)} sample(s)"
            continue
        report.pieces = with_notes
        report.features = list(_each(with_notes, piece_features, f"{name}: measuring its pieces", on_step))
        report.comparisons = compare_sets(report.features, features_of_reference)
        if pool or real_measures is not None:
            normalized = isinstance(source, ModelBundle) and source.key_normalized
            notes = take_length(with_notes)
            if on_step:
                on_step(f"{name}: judging against the real range", 0, 1)
            if real_measures is not None:
                measured_reference, measured_pool = real_measures(notes, normalized)
            else:
                measured_reference = measured_real(reference, notes, key_normalized=normalized)
                measured_pool = measured_real(pool, notes, key_normalized=normalized)
            report.realism = judge(measure_set(with_notes, notes), measured_reference, measured_pool)
            if on_step:
                on_step(f"{name}: judging against the real range", 1, 1)
    return Evaluation(reference_name, features_of_reference, reports, corpus_name, music_name)


def _counted(scores: Sequence[Score], what: str, on_step: Steps | None) -> Iterator[Score]:
    """The pieces, reporting each one as a consumer takes it (the consumer may stop early)."""
    for i, score in enumerate(scores):
        yield score
        if on_step:
            on_step(what, i + 1, len(scores))


def closer_count(ours: ModelReport, theirs: ModelReport, features: Sequence[str] = DISTRIBUTION_FEATURES) -> int:
    """On how many features ``ours`` is closer to the reference than ``theirs`` (larger overlap;
    equal overlaps go to the smaller KL divergence)."""
    mine = {c.feature: c for c in ours.comparisons}
    other = {c.feature: c for c in theirs.comparisons}
    wins = 0
    for f in features:
        a, b = mine[f], other[f]
        if round(a.overlap, 3) != round(b.overlap, 3):
            wins += a.overlap > b.overlap
        else:
            wins += a.kl_divergence < b.kl_divergence
    return wins


# --- did a training run learn? -----------------------------------------------------------------------------
#: A fall in validation accuracy smaller than this is noise, not a fall.
ACCURACY_FALL_TOLERANCE = 0.001


def chance_nll_per_token(train: Iterable[Score], validation: Iterable[Score], bundle: ModelBundle) -> float | None:
    """The surprise (mean negative log-likelihood, nats per token) of a model that knows nothing but how often
    each token occurs in the training pieces, on the validation pieces: the bar a trained model must beat.

    Token frequencies are counted over ``bundle``'s vocabulary with one added to every count (a token the
    training pieces never use is still possible).  None without validation tokens.
    """
    encoding, vocab = encoding_for(bundle.encoding), bundle.vocab
    counts = np.ones(len(vocab), dtype=np.float64)
    for score in train:
        ids = vocab.encode(encoding.encode(score), skip_unknown=True)
        counts += np.bincount(ids, minlength=len(vocab))[:len(vocab)]
    log_p = np.log(counts / counts.sum())
    total, tokens = 0.0, 0
    for score in validation:
        ids = vocab.encode(encoding.encode(score), skip_unknown=True)[1:]  # the first token is never predicted
        total -= float(log_p[ids].sum())
        tokens += len(ids)
    return total / tokens if tokens else None


@dataclass(frozen=True)
class LearningVerdict:
    """Whether a training run's model learned, in words (see :func:`learning_verdict`)."""

    learned: bool
    message: str
    nll_per_note: float | None = None  # the kept weights' surprise per note on the validation pieces
    chance_per_note: float | None = None  # a model that knows nothing, in the same unit
    better_than_chance: float | None = None  # 0.3: 30% less surprised than chance


def learning_verdict(metrics: BundleMetrics, chance_per_token: float | None, *, first_epoch: int = 0
                     ) -> LearningVerdict | None:
    """Did the run learn?  Not when its validation loss is no better than chance (:func:`chance_nll_per_token`)
    or its validation accuracy fell over this run's epochs (from ``first_epoch``, the epochs a resumed run
    had before); it did when it beats chance by some share.  None when the run measured nothing to judge by
    (no validation pieces, no chance figure and no accuracy curve)."""
    loss = metrics.best_val_loss_per_token
    per_note = metrics.val_nll_per_note
    notes_per_token = loss / per_note if loss and per_note else None
    chance_note = chance_per_token / notes_per_token if chance_per_token and notes_per_token else chance_per_token
    figures = {"nll_per_note": per_note, "chance_per_note": chance_note}
    if loss is not None and chance_per_token is not None and loss >= chance_per_token:
        return LearningVerdict(False, "Still learning: keep training (it is no better than chance yet).", **figures)
    accuracy = [a for a in metrics.curves.get("val_accuracy", [])[first_epoch:] if math.isfinite(a)]
    if len(accuracy) >= 2 and accuracy[-1] < accuracy[0] - ACCURACY_FALL_TOLERANCE:
        return LearningVerdict(False, f"Still learning: keep training (its accuracy on pieces it never saw fell "
                                      f"from {accuracy[0]:.1%} to {accuracy[-1]:.1%} during this run).", **figures)
    if loss is None or chance_per_token is None:
        return None
    better = 1.0 - loss / chance_per_token
    return LearningVerdict(True, f"Learned: it predicts the next note better than chance by {better:.0%}.",
                           better_than_chance=better, **figures)
