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

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .bundle import ModelBundle
from .config import GenerateConfig
from .corpus import load_corpus
from .dataset import normalize_key, split_dataset
from .encodings import ClassicEncoding, encoding_for
from .errors import BadConfig
from .generate import compose, single_threaded_blas
from .metrics import (DISTRIBUTION_FEATURES, FEATURE_LABELS, SetComparison, compare_sets, model_metrics,
                      piece_features)
from .models import make_stepper
from .realism import MeasuredSet, RealismReport, judge, measure_set, take_length
from .score import Score

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
                          "means": feature_means(self.reference_features), "corpus": self.corpus_name},
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
    config: GenerateConfig | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    pool: Sequence[Score] = (),
    corpus_name: str = "the real pieces",
) -> Evaluation:
    """Generate, measure and compare.

    Parameters
    ----------
    models
        name -> a model bundle (sampled here with ``config``) or a list of pieces
        already made (e.g. by :func:`classic_generate`).
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
    corpus_name
        How the realism verdicts name the reference's music ("passes for Bach on ...").

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
    config = config or GenerateConfig()
    reference_features = [piece_features(s) for s in reference]
    reports = []
    for name, source in models.items():
        report = ModelReport(name)
        reports.append(report)
        try:
            if isinstance(source, ModelBundle):
                pieces = sample_model(source, config, samples,
                                      on_sample=lambda i, n=name: on_progress and on_progress(n, i, samples))
                report.model = {k: round(float(v), 4) for k, v in
                                model_metrics(source, _model_space(source, reference),
                                              max_tokens=MAX_METRIC_TOKENS).items()}
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
        report.features = [piece_features(p) for p in with_notes]
        report.comparisons = compare_sets(report.features, reference_features)
        if pool:
            normalized = isinstance(source, ModelBundle) and source.key_normalized
            notes = take_length(with_notes)
            report.realism = judge(measure_set(with_notes, notes),
                                   measured_real(reference, notes, key_normalized=normalized),
                                   measured_real(pool, notes, key_normalized=normalized))
    return Evaluation(reference_name, reference_features, reports, corpus_name)


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
