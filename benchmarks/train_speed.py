"""Training speed of every registered architecture: tokens per second, and the ratio to ``lstm``, in one run.

    .venv/bin/python -m benchmarks.train_speed [--warmup 2] [--batches 4] [--only lstm,gru]

Every architecture in ``neurotunes.models.names()`` (the registry: plug-ins added
later are measured too) is built at its Train-page preset size (the first preset of
``neurotunes.ui.train_form.PRESETS`` naming it; 2 layers of 256 units where none
does), compiled as ``neurotunes.training.train`` compiles it (Adam 2e-3 with
clipnorm 1, cross-entropy on logits), and fitted on batches of 32 x 128 event tokens
of real chorales, a target at every step.  Each ``transformer`` is also measured
at context 512 on 8 x 512-token batches (the same 4,096 tokens a batch).

One ``fit`` per model over ``--warmup + --batches`` steps; the clock runs from the
end of the last warm-up batch (graph tracing, first allocations) to the end of the
last timed batch, so tokens/s = timed batches x tokens per batch / that time.
``lstm`` is measured first and again last, and the ratios are to the mean of the
two: on a shared machine the load drifts, and only figures from one run compare.
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

from neurotunes import models  # noqa: E402
from neurotunes._quiet import import_tensorflow  # noqa: E402
from neurotunes.config import ModelConfig  # noqa: E402
from neurotunes.corpus import load_corpus  # noqa: E402
from neurotunes.dataset import make_windows, token_stream  # noqa: E402
from neurotunes.encodings import EncodingConfig, encoding_for  # noqa: E402

BATCH, SEQUENCE = 32, 128
#: The long-context row: a transformer sees 512 tokens, in batches of as many tokens as the others'.
LONG_CONTEXT, LONG_BATCH = 512, 8
#: Chorales whose tokens fill the batches (about 11,000 event tokens).
PIECES = 20
LEARNING_RATE = 2e-3  # TrainConfig's default, as the Train page starts


def preset_configs() -> dict[str, ModelConfig]:
    """Architecture name -> its first Train-page preset."""
    import streamlit.logger

    streamlit.logger.set_log_level("error")  # no "no runtime found" warnings from the page helpers outside the app
    from neurotunes.ui.train_form import PRESETS

    first: dict[str, ModelConfig] = {}
    for config in PRESETS.values():
        first.setdefault(config.arch, config)
    return first


def configs(names: list[str], vocab_size: int) -> list[tuple[str, ModelConfig, int, int]]:
    """(label, model config, batch, sequence length) for every architecture, presets first."""
    presets = preset_configs()
    rows = []
    for name in names:
        base = presets.get(name) or ModelConfig(arch=name, units=256, layers=2)
        config = ModelConfig.from_dict({**base.to_dict(), "vocab_size": vocab_size})
        size = f"{config.layers} x {config.units}" + ("" if name in presets else " (no preset)")
        rows.append((f"{name} {size}", config, BATCH, SEQUENCE))
        if name == "transformer":
            long = ModelConfig.from_dict({**config.to_dict(), "context": LONG_CONTEXT})
            rows.append((f"{name} {size}, context {LONG_CONTEXT}", long, LONG_BATCH, LONG_CONTEXT))
    return rows


def tokens_per_second(config: ModelConfig, stream: np.ndarray, batch: int, sequence: int,
                      warmup: int, timed: int) -> float:
    tf = import_tensorflow()

    x, y = make_windows(stream, sequence)
    data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch, drop_remainder=True)
    tf.keras.utils.set_random_seed(0)
    model = models.build_model(config)
    model.compile(optimizer=tf.keras.optimizers.Adam(LEARNING_RATE, clipnorm=1.0),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    class Clock(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    clock = Clock()
    model.fit(data, epochs=1, steps_per_epoch=warmup + timed, callbacks=[clock], verbose=0)
    seconds = clock.ends[-1] - clock.ends[warmup - 1]
    tf.keras.backend.clear_session()
    return timed * batch * sequence / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warmup", type=int, default=2, help="batches before the clock starts (at least 1)")
    ap.add_argument("--batches", type=int, default=4, help="timed batches per model")
    ap.add_argument("--only", default="", help="comma-separated architectures (default: every registered one)")
    args = ap.parse_args()
    names = list(models.names())
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            ap.error(f"unknown architectures {unknown}; registered: {', '.join(names)}")
        names = [n for n in names if n in wanted or n == "lstm"]  # lstm is the yardstick
    encoding = EncodingConfig()
    vocab = encoding_for(encoding).vocabulary()
    stream = token_stream(load_corpus("bach", limit=PIECES), encoding, vocab)
    rows = []
    plan = configs(names, len(vocab))
    plan.append(("lstm, again", *plan[0][1:]))  # the yardstick at both ends: the machine's load drifts
    for label, config, batch, sequence in plan:
        rate = tokens_per_second(config, stream, batch, sequence, max(args.warmup, 1), max(args.batches, 1))
        rows.append((label, batch, sequence, rate))
        print(f"  {label}: {rate:,.0f} tokens/s", file=sys.stderr, flush=True)
    *rows, (_, _, _, lstm_again) = rows
    lstm = (rows[0][3] + lstm_again) / 2
    print(f"{len(stream):,} event tokens of {PIECES} chorales; {max(args.warmup, 1)} warm-up + "
          f"{max(args.batches, 1)} timed batches per model (fit, a target at every step)")
    print(f"{'architecture (Train-page preset)':45s} {'batch':>9s} {'tokens/s':>10s} {'vs lstm':>8s}")
    for label, batch, sequence, rate in rows:
        print(f"{label:45s} {f'{batch} x {sequence}':>9s} {rate:10,.0f} {rate / lstm:7.2f}x")
    print(f"vs lstm: against the mean of lstm measured first and last ({rows[0][3]:,.0f} and {lstm_again:,.0f} "
          "tokens/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
