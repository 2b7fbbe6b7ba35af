"""A fair training comparison: the seed recipe vs ours, one encoding, the same chorales, the same wall-clock budget.

    .venv/bin/python -m benchmarks.train_quality [--minutes 6] [--pieces 0] [--context 128]

Both recipes read the event encoding (``EncodingConfig()``: pitch, duration and
time-shift tokens) of the music21 Bach chorales, split by piece as the shipped
models were (``neurotunes.evaluate.SPLIT_SEED`` and ``VALIDATION_FRACTION``), and
each trains for ``--minutes`` of wall-clock time (its data preparation included),
keeping the weights of its best validation loss.  What differs is the recipe:

* seed (Classical-Piano-Composer, and the tutorial it inspired): one-hot windows
  of 100 tokens, 2 x LSTM 256 with dropout 0.3, a Dense to the vocabulary, ONE
  target per window (the token after it), pieces in their own keys, Adam (Keras'
  default rate), batches of 64.  Its epochs would take longer than any budget here,
  so it validates every :data:`SEED_STEPS_PER_EPOCH` batches, on a fixed sample of
  :data:`SEED_VALIDATION_WINDOWS` held-out windows.
* ours (``neurotunes.training.train``, as scripts/train_shipped.py): embedding,
  2 x LSTM 256 with causal attention, dropout 0.3, a target at EVERY step of
  32 x 128-token chunks, keys normalised to C major / A minor, Adam 2e-3 (constant:
  the budget, not an epoch count, ends the run), stopped by ``should_stop``.
  ``--context`` lengthens its chunks and attention together (``--context 384``:
  16 x 384-token batches, as the recipe being tried for phrase-length memory).

Both are scored the same way on the held-out chorales: validation NLL per NOTE
(nats; the NLL of every token of every held-out piece but its opening BOS, summed,
divided by the notes) and next-note pitch accuracy (at steps whose target is a
NOTE, is the likeliest NOTE the right one).  Ours through
``neurotunes.metrics.model_metrics`` (stepped, the whole piece as context); the seed
recipe by one batched predict over every window (BOS-padded at a piece's start, so
the first tokens have a window of 100).  Each recipe's pieces are in its own key
space (the seed recipe's in their own keys, ours normalised): the same pieces and
the same number of tokens and notes, which the table shows.  Target: ours at least
20% lower NLL per note.
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

from neurotunes._quiet import import_tensorflow  # noqa: E402
from neurotunes.config import ModelConfig, TrainConfig  # noqa: E402
from neurotunes.corpus import load_corpus  # noqa: E402
from neurotunes.dataset import Dataset, split_dataset  # noqa: E402
from neurotunes.encodings import EncodingConfig, encoding_for  # noqa: E402
from neurotunes.evaluate import SPLIT_SEED, VALIDATION_FRACTION  # noqa: E402
from neurotunes.metrics import model_metrics  # noqa: E402
from neurotunes.training import train  # noqa: E402

#: Classical-Piano-Composer's window: 100 tokens in, the next one out.
WINDOW = 100
SEED_BATCH = 64
SEED_UNITS = 256
SEED_DROPOUT = 0.3
#: The seed recipe's validation interval (in batches) and validation sample (windows of held-out pieces).
SEED_STEPS_PER_EPOCH = 100
SEED_VALIDATION_WINDOWS = 2048
#: Windows per predict call when scoring the seed recipe (one-hot: 512 x 100 x vocabulary floats).
SCORE_BATCH = 512
#: Ours: the shipped recipe (scripts/train_shipped.py), its length set by the clock instead of epochs.
OURS_MODEL = ModelConfig(arch="lstm_attention", units=256, layers=2, dropout=0.3, embedding_dim=64)
OURS_TRAINING = TrainConfig(epochs=1000, batch_size=32, sequence_length=128, learning_rate=2e-3,
                            lr_schedule="constant", patience=0, seed=0)
TOKENS_PER_BATCH = OURS_TRAINING.batch_size * OURS_TRAINING.sequence_length


def piece_ids(dataset: Dataset, pieces) -> list[np.ndarray]:
    """Each piece's token ids (BOS first) in the dataset's event vocabulary, as model_metrics reads them."""
    encoding = encoding_for(dataset.encoding)
    vocab = encoding.vocabulary()
    return [vocab.encode(encoding.encode(score), skip_unknown=True) for score in pieces]


def windows(pieces: list[np.ndarray], bos: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(previous 100 tokens, token)`` pair of every piece; the opening BOS is never a target, and
    the first tokens' windows are filled with BOS on the left.  Token ids fit in uint8 (vocabulary < 256)."""
    xs, ys = [], []
    for ids in pieces:
        padded = np.concatenate([np.full(WINDOW - 1, bos), ids]).astype(np.uint8)
        view = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)  # row k: the window before target k + 1
        xs.append(view[: len(ids) - 1])
        ys.append(ids[1:])
    return np.concatenate(xs), np.concatenate(ys).astype(np.int32)


def seed_model(vocab_size: int):
    """The seed recipe's network: one-hot window -> LSTM 256 -> dropout -> LSTM 256 -> Dense (logits)."""
    tf = import_tensorflow()

    inputs = tf.keras.Input(shape=(WINDOW, vocab_size), name="one_hot_window")
    x = tf.keras.layers.LSTM(SEED_UNITS, return_sequences=True)(inputs)
    x = tf.keras.layers.Dropout(SEED_DROPOUT)(x)
    x = tf.keras.layers.LSTM(SEED_UNITS)(x)
    logits = tf.keras.layers.Dense(vocab_size)(x)  # softmax in the loss
    return tf.keras.Model(inputs, logits, name="seed_recipe")


def one_hot_batches(x: np.ndarray, y: np.ndarray | None, vocab_size: int, batch: int, *, shuffle: bool = False):
    tf = import_tensorflow()

    data = tf.data.Dataset.from_tensor_slices((x, y) if y is not None else x)
    if shuffle:
        data = data.shuffle(len(x), seed=0, reshuffle_each_iteration=True).repeat()
    data = data.batch(batch)
    if y is not None:
        data = data.map(lambda a, b: (tf.one_hot(tf.cast(a, tf.int32), vocab_size), b))
    else:
        data = data.map(lambda a: tf.one_hot(tf.cast(a, tf.int32), vocab_size))
    return data.prefetch(tf.data.AUTOTUNE)


def train_seed(dataset: Dataset, deadline: float) -> tuple[object, dict]:
    """Train the seed recipe until ``deadline`` (time.monotonic()); the model holds its best weights."""
    tf = import_tensorflow()

    vocab = encoding_for(dataset.encoding).vocabulary()
    bos = vocab.index[encoding_for(dataset.encoding).bos]
    x, y = windows(piece_ids(dataset, dataset.train), bos)
    vx, vy = windows(piece_ids(dataset, dataset.validation), bos)
    sample = np.random.default_rng(0).permutation(len(vx))[:SEED_VALIDATION_WINDOWS]
    tf.keras.utils.set_random_seed(0)
    model = seed_model(len(vocab))
    model.compile(optimizer=tf.keras.optimizers.Adam(),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Budget(tf.keras.callbacks.Callback):
        """Stop when the clock runs out; remember the weights of the best validation loss."""

        def __init__(self):
            super().__init__()
            self.best, self.best_weights, self.batches, self.epochs = np.inf, None, 0, 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if time.monotonic() >= deadline:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1
            if logs and logs.get("val_loss", np.inf) < self.best:
                self.best, self.best_weights = logs["val_loss"], self.model.get_weights()

    budget = Budget()
    model.fit(one_hot_batches(x, y, len(vocab), SEED_BATCH, shuffle=True), epochs=1_000_000,
              steps_per_epoch=SEED_STEPS_PER_EPOCH,
              validation_data=one_hot_batches(vx[sample], vy[sample], len(vocab), SCORE_BATCH),
              callbacks=[budget], verbose=0)
    if budget.best_weights is not None:
        model.set_weights(budget.best_weights)
    passes = budget.batches * SEED_BATCH / len(y)
    return model, {"passes": passes, "batches": budget.batches, "targets": budget.batches * SEED_BATCH,
                   "validations": budget.epochs}


def score_seed(model, dataset: Dataset) -> dict[str, float]:
    """model_metrics' figures for the seed recipe: one batched predict over every held-out window."""
    encoding = encoding_for(dataset.encoding)
    vocab = encoding.vocabulary()
    pieces = piece_ids(dataset, dataset.validation)
    x, y = windows(pieces, vocab.index[encoding.bos])
    logits = model.predict(one_hot_batches(x, None, len(vocab), SCORE_BATCH), verbose=0).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -log_probs[np.arange(len(y)), y].sum()
    pitched = encoding.facts(vocab).carries_pitch
    targets = pitched[y]
    guesses = np.argmax(np.where(pitched[None, :], log_probs, -np.inf), axis=1)
    notes = sum(encoding.count_notes(vocab.decode(ids)) for ids in pieces)
    return {"nll_per_note": nll / notes, "pitch_accuracy": float((guesses == y)[targets].mean()),
            "tokens": len(y), "notes": notes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="wall-clock training budget of each recipe")
    ap.add_argument("--pieces", type=int, default=0, help="first N chorales (0 = all, as the shipped model)")
    ap.add_argument("--context", type=int, default=OURS_MODEL.context,
                    help="ours: tokens per training chunk and attention span (batches keep about 4,096 tokens)")
    args = ap.parse_args()
    ours_model = ModelConfig.from_dict({**OURS_MODEL.to_dict(), "context": args.context})
    ours_training = TrainConfig.from_dict({**OURS_TRAINING.to_dict(), "sequence_length": args.context,
                                           "batch_size": max(TOKENS_PER_BATCH // args.context, 1)})
    scores = load_corpus("bach", limit=args.pieces or None)
    split = {"validation_fraction": VALIDATION_FRACTION, "seed": SPLIT_SEED, "encoding": EncodingConfig()}
    own_keys = split_dataset(scores, **split)
    normalised = split_dataset(scores, **split, key_normalization=True)
    budget = args.minutes * 60
    rows = []

    start = time.monotonic()
    model, seen = train_seed(own_keys, start + budget)
    seconds = time.monotonic() - start
    rows.append(("seed: one-hot windows of 100, 1 target each, own keys", seen["passes"], seconds,
                 score_seed(model, own_keys), f"{seen['batches']} x {SEED_BATCH} windows"))

    start = time.monotonic()
    result = train(normalised, ours_model, ours_training, should_stop=lambda: time.monotonic() >= start + budget,
                   name="ours under a budget")
    seconds = time.monotonic() - start
    epochs = len(result.history.get("loss", []))
    m = model_metrics(result.bundle, normalised.validation)
    rows.append(("ours: embedding, a target every step, keys normalised", epochs, seconds, m,
                 f"{epochs} epochs of {ours_training.batch_size} x {ours_training.sequence_length} tokens"))

    print(f"{len(scores)} chorales: {len(own_keys.train)} to train on, {len(own_keys.validation)} held out "
          f"(split seed {SPLIT_SEED}, {VALIDATION_FRACTION:.0%}); budget {args.minutes:g} min of wall clock each")
    print(f"{'recipe':55s} {'passes':>7s} {'train s':>8s} {'NLL/note':>9s} {'pitch acc':>9s} {'tokens':>7s} "
          f"{'notes':>6s}  trained on")
    for label, passes, secs, met, trained in rows:
        print(f"{label:55s} {passes:7.2f} {secs:8.0f} {met['nll_per_note']:9.3f} {met['pitch_accuracy']:9.3f} "
              f"{met['tokens']:7d} {met['notes']:6d}  {trained}")
    seed, ours = rows[0][3], rows[1][3]
    if (seed["tokens"], seed["notes"]) != (ours["tokens"], ours["notes"]):
        print("WARNING: the recipes were scored on different token or note counts; the comparison is not like "
              "for like")
    ratio = ours["nll_per_note"] / seed["nll_per_note"]
    change = f"{(1 - ratio) * 100:.0f}% lower" if ratio < 1 else f"{(ratio - 1) * 100:.0f}% higher"
    print(f"NLL per note, ours / seed: {ratio:.2f} ({change}; target: at least 20% lower): "
          f"{'met' if ratio <= 0.8 else 'MISSED'}")
    print("passes: training tokens used as targets, divided by the training set's (ours: whole epochs; the seed "
          "recipe: one target per window)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
