"""Growth past one process: preparing shards with 1 and 2 workers, memory as the corpus grows, training tokens/s
with 1 and 2 workers, all in one run.

    .venv/bin/python -m benchmarks.scale [--pieces 5000] [--sizes 1000,2000] [--steps 30]

Preprocessing: ``neurotunes prepare corpus:essen`` (Essen folk songs, music21's ABC collections split into
tunes: 8,514 of them) in a fresh folder each time, encoded with the event encoding, keys normalized, every
tune parsed from its ABC text (music21's own work, no cache), none held out (so training below is timed
without validation passes).  Each preparation runs in its own process, so
its peak memory is its own: the driver's peak resident set and the largest of its Beam worker processes
(``getrusage``).  ``--pieces`` with 1 worker and with 2 workers gives pieces/s and their ratio; each size of
``--sizes`` (and ``--pieces``) with 2 workers gives time and peak memory, and memory's ratio to the smallest.

Training: the largest shards folder, 2 x LSTM 256 (the tutorial's model) on 32 x 128-token batches, through
``neurotunes train --shards``: once alone, once as two workers of ``--strategy multiworker`` (two processes
on this machine, ``TF_CONFIG`` naming both, the same global batch split between them).  Each is run twice,
for 1 and for 3 epochs of ``--steps`` batches, and tokens/s comes from the difference, so start-up, graph
tracing and the first epoch's warm-up cancel out.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH, SEQUENCE = 32, 128

_PREPARE = """
import json, resource, sys, time
from neurotunes.encodings import EncodingConfig
from neurotunes.shards import prepare
start = time.monotonic()
report = prepare(["corpus:essen"], sys.argv[1], encoding=EncodingConfig(), key_normalization=True,
                 workers=int(sys.argv[2]), limit=int(sys.argv[3]), validation_fraction=0.0)
seconds = time.monotonic() - start
totals = report.manifest.totals
print(json.dumps({"seconds": seconds, "pieces": totals["train"]["pieces"] + totals["validation"]["pieces"],
                  "errors": len(report.manifest.errors),
                  "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def prepare_run(out: Path, workers: int, pieces: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _PREPARE, str(out), str(workers), str(pieces)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode:
        raise SystemExit(f"prepare failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_run(shards: Path, workers: int, epochs: int, steps: int, out: Path) -> float:
    """Wall-clock seconds of one `neurotunes train --shards` (all workers together)."""
    command = [sys.executable, "-m", "neurotunes", "train", "--shards", str(shards), "--arch", "lstm", "--units",
               "256", "--layers", "2", "--epochs", str(epochs), "--max-steps", str(steps), "--batch-size",
               str(BATCH), "--sequence-length", str(SEQUENCE), "--patience", "0", "-o", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.monotonic()
    if workers == 1:
        procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)]
    else:
        cluster = [f"127.0.0.1:{_free_port()}" for _ in range(workers)]
        procs = [subprocess.Popen(command + ["--strategy", "multiworker"], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env={**env, "TF_CONFIG": json.dumps({"cluster": {"worker": cluster},
                                                                       "task": {"type": "worker", "index": i}})})
                 for i in range(workers)]
    outputs = [p.communicate() for p in procs]
    seconds = time.monotonic() - start
    if any(p.returncode for p in procs):
        raise SystemExit(f"training failed: {[o[1][-1500:] for o in outputs]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=5000, help="the largest corpus (tunes), prepared with 1 and 2 workers")
    ap.add_argument("--sizes", default="1000,2000", help="smaller corpora, prepared with 2 workers (memory growth)")
    ap.add_argument("--steps", type=int, default=30, help="training batches per epoch")
    args = ap.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | {args.pieces})
    rows = []
    with tempfile.TemporaryDirectory(prefix="neurotunes-scale-") as tmp:
        tmp_path = Path(tmp)
        one = prepare_run(tmp_path / "one", 1, args.pieces)
        print(f"prepare {args.pieces:,} tunes, 1 worker: {one['seconds']:.1f} s", file=sys.stderr)
        for size in sizes:
            run = prepare_run(tmp_path / f"two-{size}", 2, size)
            rows.append((size, run))
            print(f"prepare {size:,} tunes, 2 workers: {run['seconds']:.1f} s", file=sys.stderr)
        two = dict(rows)[args.pieces]
        shards = tmp_path / f"two-{args.pieces}"
        timings = {}
        for workers in (1, 2):
            short = train_run(shards, workers, 1, args.steps, tmp_path / f"m{workers}a")
            long = train_run(shards, workers, 3, args.steps, tmp_path / f"m{workers}b")
            timings[workers] = 2 * args.steps * BATCH * SEQUENCE / max(long - short, 1e-9)
            print(f"train, {workers} worker(s): {timings[workers]:,.0f} tokens/s", file=sys.stderr)

    print(f"\nPreparing music21's Essen folk songs (event encoding, keys normalized), {os.cpu_count()} cores\n")
    print("| workers | tunes | pieces | seconds | pieces/s | ratio to 1 worker |")
    print("|---|---|---|---|---|---|")
    for workers, run in ((1, one), (2, two)):
        rate = run["pieces"] / run["seconds"]
        print(f"| {workers} | {args.pieces:,} | {run['pieces']:,} | {run['seconds']:.1f} | {rate:.1f} | "
              f"{rate / (one['pieces'] / one['seconds']):.2f}x |")
    print("\n| tunes (2 workers) | seconds | driver peak MB | largest worker peak MB | memory ratio to the smallest |")
    print("|---|---|---|---|---|")
    smallest = rows[0][1]
    for size, run in rows:
        peak, base = max(run["driver_mb"], run["worker_mb"]), max(smallest["driver_mb"], smallest["worker_mb"])
        print(f"| {size:,} | {run['seconds']:.1f} | {run['driver_mb']:.0f} | {run['worker_mb']:.0f} | "
              f"{peak / base:.2f}x |")
    print(f"\n| training (2 x LSTM 256, {BATCH} x {SEQUENCE} tokens a batch, from shards) | tokens/s | ratio |")
    print("|---|---|---|")
    for workers in (1, 2):
        label = "1 worker" if workers == 1 else "2 workers (multiworker, one machine)"
        print(f"| {label} | {timings[workers]:,.0f} | {timings[workers] / timings[1]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
