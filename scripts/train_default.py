"""Reproduce the shipped default model: 2 x LSTM 256 on music21's Bach chorales.

    .venv/bin/python scripts/train_default.py [--epochs N] [-o assets/models/bach-lstm]

Deterministic split (seed 0, 10% of chorales held out), transposition
augmentation of +-1 semitone on the training pieces, event encoding on a
1/16 grid.  Takes about 25 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurotunes import constants as C  # noqa: E402
from neurotunes.config import ModelConfig, TrainConfig  # noqa: E402
from neurotunes.corpus import load_corpus  # noqa: E402
from neurotunes.dataset import split_dataset  # noqa: E402
from neurotunes.training import train  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="bach")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--transpose", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pieces (0 = all)")
    ap.add_argument("--name", default="Bach chorales LSTM")
    ap.add_argument("-o", "--out", default=str(C.DEFAULT_MODEL_DIR))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    scores = load_corpus(args.corpus, limit=args.limit or None)
    logging.info("parsed %d pieces in %.0f s", len(scores), time.time() - t0)
    dataset = split_dataset(scores, validation_fraction=0.1, seed=0, description=f"music21 {args.corpus} corpus")

    def report(p):
        if p.batch is None:
            logging.info(
                "epoch %d/%d loss %.3f acc %.3f val_loss %s val_acc %s (%.0f s)",
                p.epoch, p.epochs, p.loss, p.accuracy,
                f"{p.val_loss:.3f}" if p.val_loss is not None else "-",
                f"{p.val_accuracy:.3f}" if p.val_accuracy is not None else "-",
                p.elapsed_s,
            )

    result = train(
        dataset,
        ModelConfig(arch="lstm", units=256, layers=2, dropout=0.3, embedding_dim=64),
        TrainConfig(epochs=args.epochs, batch_size=128, sequence_length=128, transpose_semitones=args.transpose,
                    learning_rate=3e-3, patience=2, seed=0),
        on_progress=report,
        name=args.name,
    )
    out = result.bundle.save(args.out)
    logging.info("saved %s (hash %s) val NLL/note %s in %.0f s", out, result.bundle.short_hash,
                 result.bundle.metrics.get("val_nll_per_note"), time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
