"""Harmonization beside Bach: the soprano of held-out chorales harmonized, and the time a 30-second tune takes.

    .venv/bin/python -m benchmarks.harmonize [--model NAME|PATH] [--pieces 10] [--seed 0]

Melodies: the top line of the first ``--pieces`` held-out chorales of the
reference split (the Evaluate page's; the shipped models never saw them), each
with its own key.  Ours: the model's alto, tenor and bass under that soprano
(``neurotunes.harmonize``, default settings).  Bach's: the same chorales as he
harmonized them.  Both are read the same way (``neurotunes.realism``): four
voices top down on a sixteenth grid.

Printed, ours beside Bach's, with the targets:

* diatonic-chord share (onsets with three or more pitch classes that fit one
  diatonic seventh chord of the key): within 0.05 of Bach's;
* parallel fifths and octaves per 100 voice-pair motions: reported beside Bach's;
* every voice inside its SATB range (``neurotunes.harmonize.RANGES``): 100%;
* the melody kept note for note: 100%.

Speed: a 30-second tune (the first 30 s of the held-out sopranos, one after
another) harmonized warm, median of 3, target 2 s on 2 cores; beside it, in the
same run, Generate writing as many notes with the same model (the ratio says
what forcing a soprano and the part-writing rules cost).
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
from neurotunes.evaluate import reference_split  # noqa: E402
from neurotunes.generate import generate  # noqa: E402
from neurotunes.harmonize import DEFAULT_TEMPERATURE, RANGES, VOICES, harmonize, prepare_melody  # noqa: E402
from neurotunes.keys import piece_key  # noqa: E402
from neurotunes.realism import diatonic_chord_counts, four_part_frames, parallel_perfects  # noqa: E402
from neurotunes.score import Note, Score  # noqa: E402

CHORD_SHARE_TOLERANCE = 0.05
SPEED_TARGET_S = 2.0
TUNE_SECONDS = 30.0
GRID = 4  # sixteenths


def soprano(chorale: Score) -> Score:
    """The chorale's top line on the grid, in its key (what a singer of the tune would give us)."""
    _, sung, _ = prepare_melody(chorale, GRID)
    return sung.replace(key=piece_key(chorale))


def judge(pieces: list[Score]) -> dict[str, float]:
    fitting = chords = parallels = motions = 0
    for piece in pieces:
        f, c = diatonic_chord_counts(piece, piece_key(piece))
        fitting, chords = fitting + f, chords + c
        p, m = parallel_perfects(four_part_frames(piece, GRID))
        parallels, motions = parallels + p, motions + m
    return {"chord_share": fitting / max(chords, 1), "parallels_per_100": 100 * parallels / max(motions, 1),
            "chords": chords, "motions": motions}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="a shipped name or a bundle folder/.zip (a frame model)")
    ap.add_argument("--pieces", type=int, default=10, help="held-out chorales whose soprano is harmonized")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, help="the harmonizer's (its default)")
    args = ap.parse_args()
    bundle = load_bundle(args.model)
    _, held_out = reference_split("bach")
    chorales = held_out[: args.pieces]
    melodies = [soprano(c) for c in chorales]
    print(f"model: {bundle.name}; {len(chorales)} held-out chorales, their soprano harmonized (seed {args.seed}, "
          f"temperature {args.temperature:g})")

    began = time.perf_counter()
    ours = [harmonize(bundle, m, seed=args.seed, temperature=args.temperature) for m in melodies]
    took = time.perf_counter() - began
    kept = sum(h.voice("Soprano").pitch_list() == m.pitch_list() and
               [round(n.start, 6) for n in h.voice("Soprano").notes] == [round(n.start, 6) for n in m.notes]
               for h, m in zip(ours, melodies))
    in_range = {v: np.mean([RANGES[v][0] <= n.pitch <= RANGES[v][1] for h in ours for n in h.voice(v).notes])
                for v in VOICES}
    mine, bach = judge([h.score for h in ours]), judge(list(chorales))
    print(f"harmonized in {took:.1f} s ({took / len(chorales):.2f} s a chorale)\n")
    print(f"{'measure':44s} {'ours':>8s} {'Bach':>8s}  target")
    gap = abs(mine["chord_share"] - bach["chord_share"])
    print(f"{'diatonic-chord share':44s} {mine['chord_share']:8.3f} {bach['chord_share']:8.3f}  "
          f"within {CHORD_SHARE_TOLERANCE} of Bach's: {'yes' if gap <= CHORD_SHARE_TOLERANCE else 'NO'} "
          f"(|diff| {gap:.3f})")
    print(f"{'parallel 5ths/8ves per 100 voice-pair motions':44s} {mine['parallels_per_100']:8.2f} "
          f"{bach['parallels_per_100']:8.2f}  reported ({mine['motions']} and {bach['motions']} motions)")
    for v in VOICES:
        print(f"{v + ' notes inside ' + str(RANGES[v]):44s} {in_range[v]:8.1%} {'':>8s}  100%: "
              f"{'yes' if in_range[v] == 1.0 else 'NO'}")
    print(f"{'melodies kept note for note':44s} {kept / len(ours):8.1%} {'':>8s}  100%: "
          f"{'yes' if kept == len(ours) else 'NO'}")

    # Speed: a 30-second tune, warm (the model loaded, the first call made).
    spb = melodies[0].seconds_per_beat
    notes, t = [], 0.0
    for m in melodies:
        for n in m.notes:
            if t + n.start - m.notes[0].start >= TUNE_SECONDS:
                break
            notes.append(Note(start=t + n.start - m.notes[0].start, end=t + n.end - m.notes[0].start, pitch=n.pitch))
        t = max((n.end for n in notes), default=0.0)
        if t >= TUNE_SECONDS - spb:
            break
    tune = Score(notes=tuple(notes), tempo_bpm=melodies[0].tempo_bpm, key=melodies[0].key)
    harmonize(bundle, tune, seed=args.seed)  # warm
    times = []
    for i in range(3):
        began = time.perf_counter()
        made = harmonize(bundle, tune, seed=args.seed + i)
        times.append(time.perf_counter() - began)
    gen_times = []
    for i in range(3):
        began = time.perf_counter()
        generate(bundle, GenerateConfig(length=len(made.score), seed=i))
        gen_times.append(time.perf_counter() - began)
    h, g = float(np.median(times)), float(np.median(gen_times))
    print(f"\nspeed: a {tune.duration:.0f}-second tune ({len(tune)} notes) harmonized in {h:.2f} s (median of 3, "
          f"warm; target {SPEED_TARGET_S:g} s: {'yes' if h <= SPEED_TARGET_S else 'NO'}); Generate of "
          f"{len(made.score)} notes with the same model {g:.2f} s: ratio {h / g:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
