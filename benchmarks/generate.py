"""Generation speed: the classic loop vs NeuroTunes' stepped state, same model, same run.

    .venv/bin/python -m benchmarks.generate [--model default] [--classic-tokens 30] [--tokens 2000]

The classic loop (Classical-Piano-Composer) calls ``model.predict`` on the whole
100-token window for every new token.  NeuroTunes feeds one token at a time and
carries the recurrent state (NumPy on the exported weights).  Prints ms/token
for both and the speed-up ratio.
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

from neurotunes.bundle import load_bundle  # noqa: E402
from neurotunes.config import GenerateConfig  # noqa: E402
from neurotunes.generate import generate  # noqa: E402

WINDOW = 100


def classic_ms_per_token(bundle, n_tokens: int) -> float:
    import tensorflow as tf

    from neurotunes.models import build_model

    model = build_model(bundle.model)
    model.set_weights(list(bundle.weights))
    rng = np.random.default_rng(0)
    window = list(rng.integers(0, len(bundle.vocab), WINDOW))
    model.predict(np.array([window]), verbose=0)  # warm-up (graph tracing)
    start = time.perf_counter()
    for _ in range(n_tokens):
        logits = model.predict(np.array([window[-WINDOW:]]), verbose=0)[0, -1]
        probs = tf.nn.softmax(logits).numpy()
        window.append(int(rng.choice(len(probs), p=probs / probs.sum())))
    return (time.perf_counter() - start) / n_tokens * 1000


def stepped_ms_per_token(bundle, n_notes: int) -> float:
    generate(bundle, GenerateConfig(length=10))  # warm-up
    start = time.perf_counter()
    score = generate(bundle, GenerateConfig(length=n_notes, seed=1))
    elapsed = time.perf_counter() - start
    return elapsed / score.metadata["generated_tokens"] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--classic-tokens", type=int, default=30)
    ap.add_argument("--notes", type=int, default=1000)
    args = ap.parse_args()
    bundle = load_bundle(args.model)
    classic = classic_ms_per_token(bundle, args.classic_tokens)
    stepped = stepped_ms_per_token(bundle, args.notes)
    print(f"model: {bundle.name} ({bundle.model.layers} x {bundle.model.arch.upper()} {bundle.model.units})")
    print(f"classic predict-per-window loop: {classic:8.2f} ms/token")
    print(f"NeuroTunes stepped state:        {stepped:8.3f} ms/token ")
    print(f"speed-up: {classic / stepped:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
