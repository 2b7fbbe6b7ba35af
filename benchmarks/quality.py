"""Musical quality: does a model's music pass for its corpus?  The realism report against held-out pieces.

    .venv/bin/python -m benchmarks.quality [--corpus bach|fiddle] [--model NAME|PATH] [--samples 30]
                                           [--notes 200] [--real [--real-sets 10]] [--classic [--retrain]]

Reference: the 10% of the corpus held out from training (split by piece with
seed 0: the split the shipped models were trained on; 41 Bach chorales, 30
fiddle tunes), none of them seen by the model.

Model: ``--model`` (a shipped name or a bundle folder/.zip; by default the
corpus's shipped model) with its own settings (the defaults and what the model
suggests: ``bundle.generate_config(length=notes)``; ``--set k=v`` changes one),
``--samples`` takes with seeds 0, 1, 2, ...

Realism (neurotunes.realism): on nine measures the set of takes is compared with
the held-out pieces, and so are 20 sets of real pieces of the same size drawn
from the training side of the split (never the held-out pieces); a measure
passes when the takes are within 1.25 x the 95th percentile of those real
divergences.  Real pieces are cut to their first ``--notes`` notes (a take
stops after that many), and moved to C major / A minor when the model was
trained so.  Also: the diatonic-chord share within 0.05 of the held-out
pieces', and a classifier (logistic regression on each piece's histograms and
values, cross-validated) right at most 60% of the time; its accuracy on real
training-side pieces against the held-out ones is the floor.

``--real`` judges a set of real training-side pieces in place of the model (the
real range is then drawn from the rest): real music must pass, which is the
check that the bars are fair.  ``--real-sets`` such sets are judged and counted.

``--classic`` adds the older comparison with Classical-Piano-Composer's setup
(Bach only): its encoding, 2 x LSTM 256 trained on the same pieces (trained on
first use and cached; ``--retrain``), argmax sampling; Yang & Lerch's overlapping
area and KL divergence on eight features, target: ours closer on 6 of 8.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from neurotunes import constants as C  # noqa: E402
from neurotunes.bundle import ModelBundle, load_bundle  # noqa: E402
from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig  # noqa: E402
from neurotunes.evaluate import (  # noqa: E402
    CLASSIC_WINDOW,
    REFERENCE_SETS,
    REFERENCE_SHORT_NAMES,
    SPLIT_SEED,
    VALIDATION_FRACTION,
    classic_generate,
    closer_count,
    evaluate_models,
    feature_means,
    measured_real,
    reference_split,
    sample_model,
)
from neurotunes.metrics import DISTRIBUTION_FEATURES, FEATURE_LABELS, model_metrics  # noqa: E402
from neurotunes.realism import (  # noqa: E402
    BAR_MARGIN,
    BAR_PERCENTILE,
    CHORD_SHARE_TOLERANCE,
    CLASSIFIER_CEILING,
    CLASSIFIER_FOLDS,
    CLASSIFIER_REPEATS,
    HISTOGRAM_MEASURES,
    MEASURE_LABELS,
    REAL_SETS,
    RealismReport,
    judge,
    measure_set,
)

#: The shipped model of each corpus.
CORPUS_MODELS = {"bach": "default", "fiddle": "fiddle"}
#: --real draws its real set (and each further one) with this seed and up.
REAL_SET_SEED = 1000

TARGET_WINS = 6
CLASSIC_TRAINING = TrainConfig(epochs=60, batch_size=32, sequence_length=128, learning_rate=2e-3, patience=8,
                               seed=0, lr_schedule="constant")
CLASSIC_MODEL = ModelConfig(arch="lstm", units=256, layers=2, dropout=0.3, embedding_dim=64)


def _cell(value: float, width: int = 9) -> str:
    return f"{'-':>{width}s}" if value is None or not np.isfinite(value) else f"{value:{width}.4f}"


def print_report(report: RealismReport, corpus: str, subject: str) -> None:
    """The table, the chord share, the classifier and the verdict."""
    print(f"\n{'measure':32s} {'kind':6s} {'diverg.':>9s} {'bar':>9s} {'real med':>9s} {'x median':>9s}  inside")
    for m in report.measures:
        kind = "JS" if m.measure in HISTOGRAM_MEASURES else "W1/sd"
        inside = "n/a" if not m.applicable else "yes" if m.inside else "NO"
        print(f"{MEASURE_LABELS[m.measure]:32s} {kind:6s} {_cell(m.divergence)} {_cell(m.bar)} "
              f"{_cell(m.real_median)} {_cell(m.ratio, 9)}  {inside}")
    if report.reference_chord_share is None:
        print("diatonic-chord share: the held-out pieces have no chords (n/a)")
    else:
        ours = "none" if report.chord_share is None else f"{report.chord_share:.3f}"
        gap = ("" if report.chord_share is None
               else f", |diff| {abs(report.chord_share - report.reference_chord_share):.3f}")
        print(f"diatonic-chord share (all chord onsets): {subject} {ours}, held-out {report.reference_chord_share:.3f}"
              f"{gap} (at most {CHORD_SHARE_TOLERANCE}): {'yes' if report.chord_share_close else 'NO'}")
    if report.classifier_accuracy is not None:
        print(f"classifier ({CLASSIFIER_FOLDS}-fold logistic regression, {CLASSIFIER_REPEATS} repeats, "
              f"{min(report.pieces, report.reference_pieces)} pieces a side): right {report.classifier_accuracy:.1%} "
              f"of the time (at most {CLASSIFIER_CEILING:.0%}: {'yes' if report.classifier_fooled else 'NO'}); "
              f"real vs real {report.real_vs_real_accuracy:.1%}")
    print(f"verdict: {subject} {report.verdict(corpus)} -> {'PASSES' if report.passes else 'does not pass'} "
          f"(needs every measure inside, the chord share within {CHORD_SHARE_TOLERANCE} and the classifier at most "
          f"{CLASSIFIER_CEILING:.0%})")


def realism_main(args: argparse.Namespace) -> int:
    corpus = REFERENCE_SHORT_NAMES[args.corpus]
    began = time.perf_counter()
    train, held_out = reference_split(args.corpus)
    bundle = load_bundle(args.model or CORPUS_MODELS[args.corpus])
    normalized = bundle.key_normalized
    print(f"reference: {len(held_out)} held-out pieces of {REFERENCE_SETS[args.corpus][0].split(' (')[0]}; "
          f"training side {len(train)} (read in {time.perf_counter() - began:.1f} s)")
    print(f"real pieces cut to their first {args.notes} notes"
          f"{', moved to C major / A minor as the model was trained' if normalized else ''}; real range: "
          f"{REAL_SETS} sets of {args.samples} training-side pieces, bar = {BAR_MARGIN} x their "
          f"{BAR_PERCENTILE}th percentile")
    began = time.perf_counter()
    reference = measured_real(held_out, args.notes, key_normalized=normalized)
    pool = measured_real(train, args.notes, key_normalized=normalized)
    print(f"measured {len(reference) + len(pool)} real pieces in {time.perf_counter() - began:.1f} s")

    if args.real:
        passed = 0
        failures: dict[str, int] = {}
        accuracies = []
        for i in range(args.real_sets):
            idx = np.random.default_rng(REAL_SET_SEED + i).choice(len(pool), args.samples, replace=False)
            report = judge(pool.subset(idx), reference, pool.exclude(idx))
            if i == 0:
                print(f"\n--real: {args.samples} training-side pieces (seed {REAL_SET_SEED}) in place of the model; "
                      f"real range from the other {len(pool) - args.samples}")
                print_report(report, corpus, "the real set")
            passed += report.passes
            accuracies.append(report.classifier_accuracy)
            for m in report.measures:
                if not m.inside:
                    failures[MEASURE_LABELS[m.measure]] = failures.get(MEASURE_LABELS[m.measure], 0) + 1
            if not report.chord_share_close:
                failures["chord share"] = failures.get("chord share", 0) + 1
            if not report.classifier_fooled:
                failures["classifier"] = failures.get("classifier", 0) + 1
        if args.real_sets > 1:
            print(f"\n{args.real_sets} real sets (seeds {REAL_SET_SEED}..{REAL_SET_SEED + args.real_sets - 1}): "
                  f"{passed} pass every bar; classifier on them {np.mean(accuracies):.1%} on average "
                  f"(min {min(accuracies):.0%}, max {max(accuracies):.0%}); bars missed: "
                  f"{', '.join(f'{k} {v}x' for k, v in failures.items()) or 'none'}")
        return 0

    began = time.perf_counter()
    config = sampler_config(args, bundle)
    defaults = GenerateConfig().to_dict()
    changed = {k: v for k, v in config.to_dict().items() if k != "length" and v != defaults[k]}
    takes = sample_model(bundle, config, args.samples)
    seconds = time.perf_counter() - began
    notes = [len(t.pitch_list()) for t in takes if t.pitch_list()]
    print(f"\nmodel: {bundle.name} ({args.model or CORPUS_MODELS[args.corpus]}), {len(notes)} takes of "
          f"{int(np.median(notes)) if notes else 0} notes (seeds 0..{args.samples - 1}, settings: "
          f"{', '.join(f'{k}={v}' for k, v in changed.items()) or 'the defaults'}) "
          f"in {seconds:.1f} s")
    began = time.perf_counter()
    report = judge(measure_set(takes, args.notes), reference, pool)
    print(f"judged in {time.perf_counter() - began:.1f} s")
    print_report(report, corpus, "the model")
    return 0


def classic_baseline(dataset, retrain: bool) -> ModelBundle:
    from neurotunes.training import train

    path = C.data_dir() / "cache" / "benchmark-classic-bach.zip"
    if path.is_file() and not retrain:
        return load_bundle(path)
    began = time.perf_counter()
    result = train(dataset, CLASSIC_MODEL, CLASSIC_TRAINING, name="classic baseline (CPC encoding, 2 x LSTM 256)")
    print(f"trained the classic baseline in {time.perf_counter() - began:.0f} s "
          f"({len(result.history.get('loss', []))} epochs)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(result.bundle.to_zip())
    return result.bundle


def classic_main(args: argparse.Namespace) -> int:
    """Ours vs Classical-Piano-Composer's setup on Yang & Lerch's eight distribution features (Bach only)."""
    from neurotunes.corpus import load_corpus
    from neurotunes.dataset import split_dataset, token_stream
    from neurotunes.encodings import EncodingConfig

    chorales = load_corpus("bach")
    held_out = split_dataset(chorales, validation_fraction=VALIDATION_FRACTION, seed=SPLIT_SEED)
    classic_data = split_dataset(chorales, validation_fraction=VALIDATION_FRACTION, seed=SPLIT_SEED,
                                 encoding=EncodingConfig(name="classic"))
    assert [s.to_json() for s in held_out.validation] == [s.to_json() for s in classic_data.validation]
    classic = classic_baseline(classic_data, args.retrain)
    ours = load_bundle(args.model or "default")

    began = time.perf_counter()
    stream = token_stream(classic_data.train, classic.encoding, classic.vocab)
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(stream) - CLASSIC_WINDOW, args.samples)
    classic_pieces = [classic_generate(classic, stream[s : s + CLASSIC_WINDOW], args.notes) for s in starts]
    classic_seconds = time.perf_counter() - began

    began = time.perf_counter()
    evaluation = evaluate_models({"ours": ours, "classic": classic_pieces}, held_out.validation,
                                 reference_name="held-out Bach chorales", samples=args.samples,
                                 config=GenerateConfig(length=args.notes))
    ours_report, classic_report = evaluation.models
    classic_report.model = model_metrics(classic, held_out.validation)
    print(f"\n--classic: {args.samples} pieces of {args.notes} notes per setup (ours "
          f"{time.perf_counter() - began:.0f} s incl. measuring, classic loop {classic_seconds:.0f} s)")
    print(f"\n{'metric':42s} {'ours OA':>8s} {'ours KL':>8s} {'cls OA':>8s} {'cls KL':>8s}  closer"
          f"   {'real':>6s} {'ours':>6s} {'cls':>6s}")
    mine = {c.feature: c for c in ours_report.comparisons}
    theirs = {c.feature: c for c in classic_report.comparisons}
    wins = 0
    for f in DISTRIBUTION_FEATURES:
        a, b = mine[f], theirs[f]
        won = closer_count(ours_report, classic_report, [f]) == 1
        wins += won
        means = "" if a.mean is None else f"   {a.reference_mean:6.2f} {a.mean:6.2f} {b.mean:6.2f}"
        print(f"{FEATURE_LABELS[f]:42s} {a.overlap:8.3f} {a.kl_divergence:8.3f} {b.overlap:8.3f} "
              f"{b.kl_divergence:8.3f}  {'ours' if won else 'classic':7s}{means}")
    extra = [("harmonic_progression", "diatonic chord share (music21)"), ("longest_run", "longest run of one pitch")]
    real, ours_means, classic_means = (feature_means(features) for features in
                                       (evaluation.reference_features, ours_report.features, classic_report.features))
    for key, label in extra:
        print(f"{label:42s} {'':8s} {'':8s} {'':8s} {'':8s}  {'':7s}   {real[key]:6.2f} {ours_means[key]:6.2f} "
              f"{classic_means[key]:6.2f}")
    print(f"\nmodel on the held-out chorales (its own encoding): "
          f"ours {ours_report.model['nll_per_note']:.3f} nats/note, "
          f"pitch accuracy {ours_report.model['pitch_accuracy']:.3f}; "
          f"classic {classic_report.model['nll_per_note']:.3f} nats/note, pitch accuracy "
          f"{classic_report.model['pitch_accuracy']:.3f}")
    print(f"ours closer on {wins} of {len(DISTRIBUTION_FEATURES)} distribution metrics "
          f"(target >= {TARGET_WINS}): {'met' if wins >= TARGET_WINS else 'MISSED'}")
    return 0


def sampler_config(args, bundle: ModelBundle) -> GenerateConfig:
    """The model's own settings (the defaults and what the model suggests), ``--notes`` long, with any ``--set``
    settings."""
    settings = dict(item.split("=", 1) for item in args.set)
    fields = GenerateConfig.__dataclass_fields__
    typed = {k: type(getattr(GenerateConfig(), k))(v) for k, v in settings.items() if k in fields}
    unknown = set(settings) - set(fields)
    if unknown:
        raise SystemExit(f"unknown sampler settings: {sorted(unknown)}")
    return bundle.generate_config(**typed, length=args.notes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(CORPUS_MODELS), default="bach", help="the held-out pieces to judge by")
    ap.add_argument("--model", default="", help="a shipped name or a bundle folder/.zip (default: the corpus's model)")
    ap.add_argument("--samples", type=int, default=30, help="takes (or real pieces) per set")
    ap.add_argument("--notes", type=int, default=200, help="notes per take; real pieces are cut to as many")
    ap.add_argument("--real", action="store_true", help="judge real training-side pieces in place of the model")
    ap.add_argument("--real-sets", type=int, default=10, help="with --real: how many real sets to judge")
    ap.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                    help="a sampler setting other than its default, e.g. --set temperature=0.9 (repeatable)")
    ap.add_argument("--classic", action="store_true", help="also compare with the classic baseline (Bach)")
    ap.add_argument("--retrain", action="store_true", help="with --classic: train the classic baseline again")
    args = ap.parse_args(argv)
    if args.samples < 2 or args.notes < 2 or args.real_sets < 1:
        ap.error("--samples and --notes must be at least 2, --real-sets at least 1")
    status = realism_main(args)
    if args.classic and not args.real:
        if args.corpus != "bach":
            ap.error("--classic compares on the Bach chorales only")
        status = classic_main(args) or status
    return status


if __name__ == "__main__":
    raise SystemExit(main())
