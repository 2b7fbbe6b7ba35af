"""Train a candidate for a shipped model (the recipes tried for issue 15; not shipped: see below).

    .venv/bin/python scripts/train_candidate.py bach -o /tmp/bach     # at most 55 min on 2 cores
    .venv/bin/python scripts/train_candidate.py fiddle -o /tmp/fiddle
    .venv/bin/python -m benchmarks.quality --model /tmp/bach          # judge it as the shipped one is judged

Measured (2026-11-25, 2 cores shared with other work, so both stopped at the 55-minute guard: 18 of 22 and
14 of 16 epochs), against the shipped models on the realism report at the default sampler:

=========================  ==================  =====================  ============
model                      measures inside     diatonic-chord share   classifier
=========================  ==================  =====================  ============
shipped Bach (event)       6 of 9              0.592 (real 0.799)     86%
candidate Bach (frame)     3 of 9              0.580                  88%
shipped fiddle (event)     2 of 8              n/a                    96%
candidate fiddle (event)   1 of 8              n/a                    96%
=========================  ==================  =====================  ============

The frame candidate's top-line intervals came much closer (2.3x the real sets' median divergence, the shipped
model 8.3x) but its eighth-note grid cannot write the chorales' sixteenth-note passing tones (inter-onset
intervals 19x), and its chords are no better.  The fiddle candidate, trained on all 1,029 tunes instead of the
first 270, drifted from the held-out tunes' rhythm (they come from the first 300).  Neither replaced its
shipped model; scripts/train_shipped.py still reproduces those.

The recipes:

* every piece moved to C major / A minor (key normalisation: the model learns
  harmony once instead of twelve times; generation moves the result to any key);
* training windows long enough for a phrase plan: 384 tokens, about five phrases of
  a chorale's four voices in the frame encoding (a bar of eighth frames is about 40
  tokens) and about five four-bar phrases of a tune, with attention over the whole
  window;
* the reference split's held-out pieces (assets/held_out.json, the Evaluate page's
  reference sets) are never seen, not even for early stopping: 5% of the training
  side is the validation set;
* 2 x LSTM 256 with causal attention, dropout 0.3, Adam 2e-3 with a cosine
  schedule over as many epochs as 2 cores train in under an hour (22 for the
  chorales, 16 for the tunes), early stopping (patience 5) keeping the best
  validation loss, and a wall-clock guard (``--minutes``) after which the best
  weights so far are kept.

Bach: the ``frame`` encoding on an eighth-note grid (BachBot's: voices top to
bottom, ties marked), so every frame restates the whole chord and the model
always sees what sounds while it chooses the next voice.  Fiddle: the ``event``
encoding (a melody needs no voices) on every tune of Ryan's Mammoth Collection
but the held-out ones (about 1,000, four times the old model's).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurotunes.config import ModelConfig, TrainConfig  # noqa: E402
from neurotunes.corpus import CORPORA, held_out_sources, load_corpus  # noqa: E402
from neurotunes.dataset import split_dataset  # noqa: E402
from neurotunes.encodings import EncodingConfig  # noqa: E402
from neurotunes.training import train  # noqa: E402


@dataclass(frozen=True)
class Recipe:
    name: str
    corpus: str
    encoding: EncodingConfig
    model: ModelConfig
    training: TrainConfig
    limit: int | None = None  # at most this many pieces (held-out ones never count)


def _model(context: int, arch: str = "lstm_attention", dropout: float = 0.3, layers: int = 2) -> ModelConfig:
    return ModelConfig(arch=arch, units=256, layers=layers, dropout=dropout, embedding_dim=64, context=context)


def _training(sequence_length: int, batch_size: int, epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=batch_size, sequence_length=sequence_length, learning_rate=2e-3,
                       lr_schedule="cosine", patience=5, seed=0)


CANDIDATES = {
    "bach": Recipe("Bach chorales LSTM (frame candidate)", "bach",
                   EncodingConfig(name="frame", steps_per_quarter=2), _model(384), _training(384, 12, 22)),
    "bach16": Recipe("Bach chorales GRU (sixteenth frames)", "bach",
                     EncodingConfig(name="frame", steps_per_quarter=4), _model(768, "gru", 0.2), _training(768, 32, 50)),
    "bach16beats": Recipe("Bach chorales GRU (sixteenth beat frames)", "bach",
                          EncodingConfig(name="beat-frame", steps_per_quarter=4), _model(768, "gru", 0.2),
                          _training(768, 32, 50)),
    # The shipped recipe with less dropout: fed real chorales, even pieces it trained on, the shipped model gives
    # a new note at the off-beat eighth less often than they have one (soprano 0.090 against 0.121), and its takes
    # have too few eighth-note steps; less regularization may fit that rhythm.  Tried and not shipped: all 50 epochs
    # in 935 s, validation NLL 2.27 nats per note (the shipped model's); ten blocks of 30 takes at pitch top-p 0.95
    # inside on 6.2 of 9, chord share 0.759, classifier 80.4% (the shipped model: 7.0, 0.760, 79.1%).
    "bach16beats_d01": Recipe("Bach chorales GRU (sixteenth beat frames, dropout 0.1)", "bach",
                              EncodingConfig(name="beat-frame", steps_per_quarter=4), _model(768, "gru", 0.1),
                              _training(768, 32, 50)),
    # The shipped recipe, twice the epochs (a faster 2-core machine runs an epoch in about 18 s, not 52 s).  Measured,
    # not shipped yet: early stopping ended it after 73 epochs (1,387 s), validation NLL 2.02 nats per note (the
    # shipped model 2.27); ten blocks of 30 takes at pitch top-p 1.0: inside on 6.0 of 9, chord share 0.747,
    # classifier 73.6% (its rhythm is closer: inter-onset intervals inside in 4 of 10 blocks); at 0.95: 5.1 of 9,
    # 0.782, 76.7% (the shipped model at 0.95: 7.0, 0.760, 79.1%).  A candidate for the next default.
    "bach16beats_long": Recipe("Bach chorales GRU (sixteenth beat frames, 100 epochs)", "bach",
                               EncodingConfig(name="beat-frame", steps_per_quarter=4), _model(768, "gru", 0.2),
                               _training(768, 32, 100)),
    # BachBot's depth: three recurrent layers (1.5 x the work of two per token, so fewer epochs fit the hour).
    # Tried and not shipped: at epoch 32 its validation loss was 0.561 per token, the two layers' about 0.51.
    "bach16beats3": Recipe("Bach chorales GRU (sixteenth beat frames, 3 layers)", "bach",
                           EncodingConfig(name="beat-frame", steps_per_quarter=4), _model(768, "gru", 0.2, layers=3),
                           _training(768, 32, 38)),
    # The shipped recipe on frames that name their place in the bar and mark the phrase ends (fermatas).  Tried
    # and not shipped: all 50 epochs in 57 minutes, validation NLL 2.35 nats per note (fermatas counted); on four
    # blocks of 30 takes inside on 4.5 of 9 on average against the beat frames' 5.25, chord share and
    # classifier no better (README, musical quality).
    "bach16bars": Recipe("Bach chorales GRU (sixteenth bar frames, fermatas)", "bach",
                         EncodingConfig(name="bar-frame", steps_per_quarter=4), _model(768, "gru", 0.2),
                         _training(768, 32, 50)),
    # The tunes the held-out fiddle set comes from (the first 300 of Ryan's Mammoth Collection, 30 held out), as
    # frames: one note a frame, its place in the beat named by every frame end.
    "fiddle16beats": Recipe("Fiddle tunes GRU (sixteenth beat frames)", "ryansMammoth",
                            EncodingConfig(name="beat-frame", steps_per_quarter=4), _model(768, "gru", 0.2),
                            _training(768, 32, 180), limit=270),
    "fiddle": Recipe("Fiddle tunes LSTM (candidate)", "ryansMammoth",
                     EncodingConfig(), _model(384), _training(384, 16, 16)),
}
#: Share of the training side held back for early stopping (the held-out pieces never are).
EARLY_STOPPING_FRACTION = 0.05


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=list(CANDIDATES))
    ap.add_argument("--epochs", type=int, default=None, help="at most this many epochs (default: the recipe's)")
    ap.add_argument("--minutes", type=float, default=55.0,
                    help="wall-clock budget, reading the corpus included; then the best weights so far are kept")
    ap.add_argument("-o", "--out", required=True, help="output folder")
    args = ap.parse_args(argv)
    recipe = CANDIDATES[args.model]
    training = recipe.training
    if args.epochs:
        training = TrainConfig.from_dict({**training.to_dict(), "epochs": args.epochs})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    held_out = held_out_sources(recipe.corpus)
    scores = load_corpus(recipe.corpus, exclude=held_out, limit=recipe.limit)
    logging.info("read %d pieces (%d held out, never seen) in %.0f s", len(scores), len(held_out), time.time() - t0)
    dataset = split_dataset(scores, validation_fraction=EARLY_STOPPING_FRACTION, seed=0, encoding=recipe.encoding,
                            key_normalization=True,
                            description=f"music21 {CORPORA[recipe.corpus].title}, all but the held-out pieces")

    def report(p):
        if p.batch is None:
            logging.info("epoch %d/%d loss %.3f acc %.3f val_loss %s val_acc %s (%.0f s)",
                         p.epoch, p.epochs, p.loss, p.accuracy,
                         f"{p.val_loss:.3f}" if p.val_loss is not None else "-",
                         f"{p.val_accuracy:.3f}" if p.val_accuracy is not None else "-", p.elapsed_s)

    deadline = t0 + args.minutes * 60
    result = train(dataset, recipe.model, training, on_progress=report, should_stop=lambda: time.time() > deadline,
                   name=recipe.name)
    out = result.bundle.save(args.out)
    logging.info("saved %s (hash %s) after %d epochs, val NLL/note %s, in %.0f s", out, result.bundle.short_hash,
                 len(result.history.get("loss", [])), result.bundle.metrics.val_nll_per_note, time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
