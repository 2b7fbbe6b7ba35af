"""Generation speed per token and per note: the classic loop vs NeuroTunes' stepped state, same model, same run.

    .venv/bin/python -m benchmarks.generate [--model default] [--classic-tokens 50] [--notes 1000] [--repeats 5]
    .venv/bin/python -m benchmarks.generate --profile 1000     # where the time of a 1000-note take goes

The classic loop (Classical-Piano-Composer) calls ``model.predict`` on the whole
100-token window for every new token, and writes one token per note or chord.
NeuroTunes feeds one token at a time and carries the state (NumPy on the exported
weights); its event tokens take about 2.3 tokens per note (a NOTE, its DUR, and a
SHIFT now and then).  Both run the bundle's own model, so the ratio is the loop's.

Prints ms per token and per note for both, and the speed-up per note (target: 200x).
Per note the classic loop is credited with one note per token, as CPC counts (a chord
token is one "note"); the line below it also gives the figure when each note of a chord
counts, from the classic encoding of real chorales.  Wall-clock times in ``--repeats``
rounds, each a slice of the classic tokens then one take of ours, so both see the same
load; the figures are the rounds' medians.  On a shared machine compare only one run's.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from neurotunes.bundle import load_bundle  # noqa: E402
from neurotunes.generate import generate  # noqa: E402

WINDOW = 100
#: Chorales whose classic encoding gives the notes per classic token (a chord token holds several).
CHORALES = 40


class ClassicLoop:
    """Classical-Piano-Composer's loop: predict on the last 100 tokens, softmax, draw, slide the window."""

    def __init__(self, bundle):
        from neurotunes._quiet import import_tensorflow
        from neurotunes.models import build_model

        self.tf = import_tensorflow()
        self.model = build_model(bundle.model)
        self.model.set_weights(list(bundle.weights))
        self.rng = np.random.default_rng(0)
        self.window = list(self.rng.integers(0, len(bundle.vocab), WINDOW))
        self.model.predict(np.array([self.window]), verbose=0)  # warm-up (graph tracing)

    def ms_per_token(self, n_tokens: int) -> float:
        start = time.perf_counter()
        for _ in range(n_tokens):
            logits = self.model.predict(np.array([self.window[-WINDOW:]]), verbose=0)[0, -1]
            probs = self.tf.nn.softmax(logits).numpy().astype(np.float64)
            self.window.append(int(self.rng.choice(len(probs), p=probs / probs.sum())))
        return (time.perf_counter() - start) / n_tokens * 1000


def classic_notes_per_token() -> float:
    """Notes per token of Classical-Piano-Composer's encoding (a chord token counts each note) on real chorales."""
    from neurotunes.corpus import load_corpus
    from neurotunes.encodings import EncodingConfig, encoding_for

    return encoding_for(EncodingConfig(name="classic")).notes_per_token(load_corpus("bach", limit=CHORALES))


def stepped(bundle, n_notes: int) -> tuple[float, float, int, int]:
    """Ours: (ms per token, ms per note, tokens, notes) of one take of ``n_notes`` at the model's own settings
    (the defaults and what the model suggests: the four-voice model's pitch top-p costs its sort per token)."""
    start = time.perf_counter()
    score = generate(bundle, bundle.generate_config(length=n_notes, seed=1))
    elapsed = (time.perf_counter() - start) * 1000
    tokens, notes = score.metadata["generated_tokens"], len(score.notes)
    return elapsed / tokens, elapsed / notes, tokens, notes


def profile(bundle, n_notes: int, top: int = 18) -> None:
    generate(bundle, bundle.generate_config(length=10))
    profiler = cProfile.Profile()
    profiler.enable()
    generate(bundle, bundle.generate_config(length=n_notes, seed=1))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--classic-tokens", type=int, default=50)
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--profile", type=int, default=0, metavar="NOTES",
                    help="only profile one take of this many notes (cProfile, by own time)")
    args = ap.parse_args()
    bundle = load_bundle(args.model)
    if args.profile:
        profile(bundle, args.profile)
        return 0
    classic = ClassicLoop(bundle)
    generate(bundle, bundle.generate_config(length=10))  # warm-up
    rounds = []  # the two loops take turns, so a change in the machine's load hits both
    for _ in range(max(args.repeats, 1)):
        classic_token = classic.ms_per_token(max(args.classic_tokens // max(args.repeats, 1), 1))
        rounds.append((classic_token, *stepped(bundle, args.notes)))
    classic_token, ours_token, ours_note, tokens, notes = (statistics.median(r[i] for r in rounds) for i in range(5))
    tokens, notes = int(tokens), int(notes)
    chord_notes = classic_notes_per_token()
    classic_note = classic_token  # one token per note or chord
    print(f"model: {bundle.name} ({bundle.model.layers} x {bundle.model.arch} {bundle.model.units}); "
          f"ours: {notes} notes in {tokens} tokens ({tokens / notes:.2f} tokens/note)")
    print(f"{'':34s} {'ms/token':>9s} {'ms/note':>9s}")
    print(f"{'classic predict-per-window loop':34s} {classic_token:9.2f} {classic_note:9.2f}"
          "   (one token per note or chord)")
    print(f"{'NeuroTunes stepped state':34s} {ours_token:9.3f} {ours_note:9.3f}")
    ratio = statistics.median(r[0] / r[2] for r in rounds)  # classic ms/note (= ms/token) / ours ms/note
    print(f"speed-up per note: {ratio:.0f}x (target: at least 200x): {'met' if ratio >= 200 else 'MISSED'}; "
          f"per token: {statistics.median(r[0] / r[1] for r in rounds):.0f}x  (median of {len(rounds)} rounds: "
          + ", ".join(f"{r[0] / r[2]:.0f}x" for r in rounds) + ")")
    print(f"if each note of a classic chord token counts ({chord_notes:.2f} notes per token on {CHORALES} chorales):"
          f" classic {classic_note / chord_notes:.2f} ms/note, speed-up {ratio / chord_notes:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
