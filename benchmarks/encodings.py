"""Encodings side by side: the same chorales, model and wall-clock budget; which one writes more like Bach?

    .venv/bin/python -m benchmarks.encodings [--minutes 8] [--encodings event,frame,tsd,remi] [--samples 30]

Every encoding trains the same model (2 x LSTM 256 with attention over a 256-token
window, dropout 0.3, Adam 2e-3, batches of 16 x 256 tokens) on the same pieces:
the Bach chorales but the Evaluate page's 41 held-out ones, moved to C major / A
minor, 5% of them kept back for early stopping.  Each trains for ``--minutes`` of
wall-clock time (keeping its best validation weights), then is judged on the
held-out chorales:

* validation NLL per note (``neurotunes.metrics.model_metrics``: token NLLs summed,
  divided by the notes, so encodings with more tokens per note are not favoured);
* the realism report (``neurotunes.realism``, as ``benchmarks.quality`` prints it):
  measures inside the real range, the diatonic-chord share, and how often a
  classifier tells ``--samples`` takes of 200 notes from real chorales.

``frame`` runs on an eighth-note grid (its chorale setting), the others on the
default sixteenth grid.  The figures depend on the budget: a short one favours
encodings that learn fast, not the ones that end best.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig  # noqa: E402
from neurotunes.corpus import held_out_sources, load_corpus  # noqa: E402
from neurotunes.dataset import split_dataset  # noqa: E402
from neurotunes.encodings import EncodingConfig, encoding_for  # noqa: E402
from neurotunes.evaluate import measured_real, reference_split, sample_model  # noqa: E402
from neurotunes.metrics import model_metrics  # noqa: E402
from neurotunes.realism import judge, measure_set  # noqa: E402
from neurotunes.training import train  # noqa: E402

SETTINGS = {
    "event": EncodingConfig(name="event"),
    "frame": EncodingConfig(name="frame", steps_per_quarter=2),
    "beat-frame": EncodingConfig(name="beat-frame", steps_per_quarter=2),
    "tsd": EncodingConfig(name="tsd"),
    "remi": EncodingConfig(name="remi"),
}
WINDOW = 256
MODEL = ModelConfig(arch="lstm_attention", units=256, layers=2, dropout=0.3, embedding_dim=64, context=WINDOW)
NOTES = 200


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=8.0, help="wall-clock training budget per encoding")
    ap.add_argument("--encodings", default=",".join(SETTINGS), help="comma-separated, of: " + ", ".join(SETTINGS))
    ap.add_argument("--samples", type=int, default=30, help="takes of 200 notes judged per encoding")
    args = ap.parse_args()
    names = [n.strip() for n in args.encodings.split(",") if n.strip()]
    unknown = set(names) - set(SETTINGS)
    if unknown:
        ap.error(f"unknown encodings {sorted(unknown)}; choose from {', '.join(SETTINGS)}")

    scores = load_corpus("bach", exclude=held_out_sources("bach"))
    train_side, held_out = reference_split("bach")
    reference = measured_real(held_out, NOTES, key_normalized=True)
    pool = measured_real(train_side, NOTES, key_normalized=True)
    rows = []
    for name in names:
        encoding = SETTINGS[name]
        dataset = split_dataset(scores, validation_fraction=0.05, seed=0, encoding=encoding, key_normalization=True)
        tokens_per_note = 1 / encoding_for(encoding).notes_per_token(dataset.train)
        began = time.time()
        deadline = began + args.minutes * 60
        result = train(dataset, MODEL, TrainConfig(epochs=1000, batch_size=16, sequence_length=WINDOW,
                                                   learning_rate=2e-3, patience=0, seed=0),
                       should_stop=lambda: time.time() > deadline, name=f"{name} (benchmark)")
        trained_s = time.time() - began
        nll = model_metrics(result.bundle, [s for s in _normalized(held_out)])["nll_per_note"]
        takes = sample_model(result.bundle, GenerateConfig(length=NOTES), args.samples)
        report = judge(measure_set(takes, NOTES), reference, pool)
        rows.append((name, tokens_per_note, len(result.history.get("loss", [])), trained_s, nll, report))
        print(f"{name}: {trained_s:.0f} s, NLL/note {nll:.3f}, inside {report.inside_count} of "
              f"{len(report.applicable)}, chord share {report.chord_share:.3f}, classifier "
              f"{report.classifier_accuracy:.0%}", flush=True)

    print(f"\n{'encoding':10s} {'tok/note':>8s} {'epochs':>6s} {'train s':>7s} {'NLL/note':>8s} {'inside':>7s} "
          f"{'chords':>6s} {'classif.':>8s}")
    for name, tpn, epochs, seconds, nll, report in rows:
        print(f"{name:10s} {tpn:8.2f} {epochs:6d} {seconds:7.0f} {nll:8.3f} "
              f"{report.inside_count:>3d} of {len(report.applicable):<3d}{report.chord_share:6.3f} "
              f"{report.classifier_accuracy:8.1%}")
    print(f"held-out chorales' diatonic-chord share: {rows[0][5].reference_chord_share:.3f}" if rows else "")
    return 0


def _normalized(scores):
    from neurotunes.dataset import normalize_key

    return [normalize_key(s) for s in scores]


if __name__ == "__main__":
    raise SystemExit(main())
