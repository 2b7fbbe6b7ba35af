"""Musical quality: our default model and sampler vs the classic baseline, against held-out Bach chorales.

    .venv/bin/python -m benchmarks.quality [--samples 30] [--notes 200] [--retrain]

Reference: the 10% of the Bach chorales held out from training (music21's bach
corpus, split by piece with seed 0: the split the shipped default model was
trained on, so none of these pieces was seen by either model).

Ours: the shipped default model with the default sampler (GenerateConfig()),
``--samples`` takes of ``--notes`` notes, seeds 0, 1, 2, ...

Classic: Classical-Piano-Composer's setup: its encoding (note names and chord
pitch classes, no rhythm), 2 x LSTM 256 trained on the same training pieces
(trained here on first use and kept in the NeuroTunes cache folder; early
stopping keeps its best validation loss), and its sampling loop: a random
100-token window of training music, argmax, the window slid one token, every
token half a beat after the last.

For each of the eight distribution metrics the table gives the overlapping area
(OA, higher = closer) and KL divergence (lower = closer) of the intra-reference
and inter-set distance densities (Yang & Lerch 2018), and which setup is closer.
Target: ours closer on at least 6 of the 8.
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
from neurotunes.corpus import load_corpus  # noqa: E402
from neurotunes.dataset import split_dataset, token_stream  # noqa: E402
from neurotunes.encodings import EncodingConfig  # noqa: E402
from neurotunes.evaluate import (  # noqa: E402
    CLASSIC_WINDOW,
    SPLIT_SEED,
    VALIDATION_FRACTION,
    classic_generate,
    closer_count,
    evaluate_models,
    feature_means,
)
from neurotunes.metrics import DISTRIBUTION_FEATURES, FEATURE_LABELS, model_metrics  # noqa: E402

TARGET_WINS = 6
CLASSIC_TRAINING = TrainConfig(epochs=60, batch_size=32, sequence_length=128, learning_rate=2e-3, patience=8,
                               seed=0, lr_schedule="constant")
CLASSIC_MODEL = ModelConfig(arch="lstm", units=256, layers=2, dropout=0.3, embedding_dim=64)


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=30, help="pieces per setup")
    ap.add_argument("--notes", type=int, default=200, help="notes per piece")
    ap.add_argument("--retrain", action="store_true", help="train the classic baseline again")
    ap.add_argument("--model", default="default", help="our model: a shipped name or a bundle folder/.zip")
    args = ap.parse_args()

    chorales = load_corpus("bach")
    held_out = split_dataset(chorales, validation_fraction=VALIDATION_FRACTION, seed=SPLIT_SEED)
    classic_data = split_dataset(chorales, validation_fraction=VALIDATION_FRACTION, seed=SPLIT_SEED,
                                 encoding=EncodingConfig(name="classic"))
    assert [s.to_json() for s in held_out.validation] == [s.to_json() for s in classic_data.validation]
    classic = classic_baseline(classic_data, args.retrain)
    ours = load_bundle(args.model)

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
    print(f"reference: {len(held_out.validation)} held-out chorales; {args.samples} pieces of {args.notes} notes "
          f"per setup (ours {time.perf_counter() - began:.0f} s incl. measuring, classic loop {classic_seconds:.0f} s)")
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
    extra = [("harmonic_progression", "diatonic chord share"), ("longest_run", "longest run of one pitch")]
    real, ours_means, classic_means = (feature_means(features) for features in
                                       (evaluation.reference_features, ours_report.features, classic_report.features))
    for key, label in extra:
        print(f"{label:42s} {'':8s} {'':8s} {'':8s} {'':8s}  {'':7s}   {real[key]:6.2f} {ours_means[key]:6.2f} "
              f"{classic_means[key]:6.2f}")
    print(f"\nmodel on the held-out chorales (its own encoding): "
          f"ours {ours_report.model['nll_per_note']:.3f} nats/note, pitch accuracy {ours_report.model['pitch_accuracy']:.3f}; "
          f"classic {classic_report.model['nll_per_note']:.3f} nats/note, pitch accuracy "
          f"{classic_report.model['pitch_accuracy']:.3f}")
    print(f"ours closer on {wins} of {len(DISTRIBUTION_FEATURES)} distribution metrics "
          f"(target >= {TARGET_WINS}): {'met' if wins >= TARGET_WINS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
