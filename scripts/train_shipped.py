"""Reproduce a shipped model bundle in assets/models/.

    .venv/bin/python scripts/train_shipped.py chorale  # assets/models/bach-chorale-frames (55 min on 2 cores)
    .venv/bin/python scripts/train_shipped.py fiddle   # assets/models/fiddle-frames (about 40 min on 2 cores)
    .venv/bin/python scripts/train_shipped.py bach     # assets/models/bach-lstm   (about 25 min on 2 cores)

chorale (the shipped ``default`` model, four voices, the one that harmonizes): BachBot's frame encoding on a
sixteenth-note grid (voices top to bottom, ties marked), each frame end naming the
step of the beat the next frame falls on (the ``beat-frame`` encoding), 2 x GRU 256, dropout 0.2,
embedding 64; every chorale but the reference split's held-out ones
(assets/held_out.json), moved to C major / A minor, 5% of them kept for early
stopping; windows of 768 tokens (about 38 quarter notes: 4.7 phrases of a
median 8 quarter notes between fermatas), batches of 32, Adam 2e-3 with a
cosine schedule over 50 epochs, patience 5.  (The recipe of
scripts/train_candidate.py ``bach16beats``, run with ``--minutes 57``: all 50 epochs
finished in 2,620 s; validation NLL 2.27 nats per note.)

fiddle: the same encoding and network on the first 300 tunes of Ryan's Mammoth Collection but the 30
held-out ones (270 tunes, one note a frame), 180 epochs of the cosine schedule with patience 5: early
stopping ended it after 143 epochs (2,375 s), validation NLL 2.33 nats per note.  (train_candidate.py's
``fiddle16beats``.)

bach (the shipped ``lstm`` model, the default before the four-voice one): 2 x LSTM 256 with causal attention over the LSTM outputs (128 tokens),
dropout 0.3, embedding 64, event encoding on a 1/16 grid; every piece moved to
C major / A minor (key normalisation: the model learns harmony once instead of
twelve times, and generation moves the result to any key); deterministic split
(seed 0, 10% of pieces held out: the reference sets of the Evaluate page);
batches of 32 x 128 tokens, Adam 2e-3 with a cosine schedule, 30 epochs with
early stopping (patience 6) keeping the best validation loss.
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
from neurotunes.evaluate import REFERENCE_SETS, SPLIT_SEED, VALIDATION_FRACTION  # noqa: E402
from neurotunes.training import train  # noqa: E402
from neurotunes.bundle import load_bundle  # noqa: E402


#: name -> (display name, output folder); the corpus, its size and the split are the Evaluate page's
#: reference sets (neurotunes.evaluate.REFERENCE_SETS): their held-out pieces are these models' validation pieces.
SHIPPED = {
    "bach": ("Bach chorales LSTM", C.SHIPPED_MODELS["lstm"][1]),
    "fiddle": ("Fiddle tunes", C.SHIPPED_MODELS["fiddle"][1]),
    "chorale": ("Bach chorales, four voices", C.SHIPPED_MODELS["default"][1]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=list(SHIPPED))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("-o", "--out", default=None, help="output folder (default: the shipped location)")
    args = ap.parse_args()
    name, out_dir = SHIPPED[args.model]
    if args.model in CANDIDATE_RECIPES:
        return train_from_candidate(CANDIDATE_RECIPES[args.model], name, args.out or str(out_dir),
                                    SUGGESTED.get(args.model))
    _, corpus, limit = REFERENCE_SETS[args.model]
    args.corpus, args.limit, args.name, args.out = corpus, limit, name, args.out or str(out_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    scores = load_corpus(args.corpus, limit=args.limit or None)
    logging.info("parsed %d pieces in %.0f s", len(scores), time.time() - t0)
    dataset = split_dataset(scores, validation_fraction=VALIDATION_FRACTION, seed=SPLIT_SEED,
                            description=f"music21 {args.corpus} corpus", key_normalization=True)

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
        ModelConfig(arch="lstm_attention", units=256, layers=2, dropout=0.3, embedding_dim=64),
        TrainConfig(epochs=args.epochs, batch_size=32, sequence_length=128, learning_rate=2e-3,
                    lr_schedule="cosine", patience=6, seed=0),
        on_progress=report,
        name=args.name,
    )
    out = result.bundle.save(args.out)
    logging.info("saved %s (hash %s) val NLL/note %s in %.0f s", out, result.bundle.short_hash,
                 result.bundle.metrics.val_nll_per_note, time.time() - t0)
    return 0


#: Shipped models made by a recipe of scripts/train_candidate.py.
CANDIDATE_RECIPES = {"chorale": "bach16beats", "fiddle": "fiddle16beats"}
#: The sampler settings a shipped model suggests (metrics.json's "sampling"), measured with benchmarks/quality.py
#: over ten blocks of 30 takes: the chorale model at pitch top-p 0.95 is inside on 7.0 of 9 (4.9 at 1.0), chord
#: share 0.760 (0.707; Bach 0.799), classifier 79.1% (80.7%).  The fiddle model suggests nothing (README).
SUGGESTED = {"chorale": {"pitch_top_p": 0.95}}


def train_from_candidate(recipe: str, name: str, out: str, sampling: dict | None = None) -> int:
    """A shipped model made by train_candidate.py's ``recipe`` (57-minute guard), renamed as shipped, suggesting
    the sampler settings ``sampling``."""
    from dataclasses import replace

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import train_candidate  # noqa: E402 - the script beside this one

    folder = Path(out)
    code = train_candidate.main([recipe, "-o", str(folder), "--minutes", "57"])
    bundle = load_bundle(str(folder))
    metrics = bundle.metrics.with_values(sampling=sampling)
    replace(bundle, info=bundle.info.with_values(name=name), metrics=metrics).save(folder)
    logging.info("saved %s as %s", folder, name)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
