"""Rendering speed: NeuroTunes' FluidSynth renderer vs pretty_midi's ``fluidsynth()``, same piece, same run.

    .venv/bin/python -m benchmarks.render [--seconds 60] [--repeats 5]

The piece is a deterministic take of the shipped default model, ``--seconds`` long
(about 420 notes in 60 s, four-part texture, piano).  For every SoundFont found
(FluidR3_GM when installed, pretty_midi's TimGM6mb) it times:

* pretty_midi: ``PrettyMIDI.fluidsynth(fs=44100, synthesizer=path)``, which builds a
  synth and loads the SoundFont on every call;
* ours, cold: the first ``render_audio`` of the process with that SoundFont (it loads it);
* ours, warm: later calls (the SoundFont is held loaded; each call still builds its own synths).

Both produce 44.1 kHz stereo float audio with reverb on; pretty_midi also runs
FluidSynth's chorus (its default), ours leaves chorus off (our default).
Targets: warm <= pretty_midi, and warm <= 0.3 s for a 60 s piece.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurotunes import render  # noqa: E402
from neurotunes.bundle import load_bundle  # noqa: E402
from neurotunes.config import GenerateConfig  # noqa: E402
from neurotunes.generate import generate  # noqa: E402
from neurotunes.midi_io import score_to_midi  # noqa: E402

TARGET_WARM_S = 0.3


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import pretty_midi

    score = generate(load_bundle("default"), GenerateConfig(length=2000, seconds=args.seconds, seed=1))
    midi = pretty_midi.PrettyMIDI(io.BytesIO(score_to_midi(score)))
    fonts = [p for p in render.find_soundfonts() if p.name in ("FluidR3_GM.sf2", render.EMBEDDED_SOUNDFONT_NAME)]
    print(f"piece: {len(score.notes)} notes, {score.duration:.1f} s; {render._synth_threads()} render thread(s)")
    print(f"{'soundfont':16s} {'pretty_midi s':>13s} {'ours cold s':>11s} {'ours warm s':>11s} "
          f"{'warm/pretty_midi':>16s} {'warm <= 0.3 s':>13s}")
    ok = True
    for font in fonts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = statistics.median(timed(lambda: midi.fluidsynth(fs=44100, synthesizer=str(font)),
                                             args.repeats))
        cold = timed(lambda: render.render_audio(score, soundfont=font), 1)[0]
        warm = statistics.median(timed(lambda: render.render_audio(score, soundfont=font), args.repeats))
        ratio = warm / theirs
        ok &= ratio <= 1.0 and warm <= TARGET_WARM_S
        print(f"{font.name:16s} {theirs:13.3f} {cold:11.3f} {warm:11.3f} {ratio:16.2f} "
              f"{'yes' if warm <= TARGET_WARM_S else 'NO':>13s}")
    print("targets met" if ok else "target missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
