"""Write assets/reference_measures.json.gz: the Evaluate page's reference sets, measured once.

    .venv/bin/python scripts/reference_measures.py            # every set in neurotunes.evaluate.REFERENCE_SETS
    .venv/bin/python scripts/reference_measures.py --check    # exit 1 when the shipped file is out of date

Without it the page's first evaluation read the whole corpus (413 chorales: minutes with music21 on a
fresh server), ran music21's harmony on every held-out piece (about a second a chorale) and measured the
training side for the real range (10 s), before composing a note.  For each reference set this writes

* ``held_out``: the sources of its held-out pieces (the page checks them against assets/held_out.json);
* ``features``: :func:`neurotunes.metrics.piece_features` of each held-out piece;
* ``reference`` and ``pool``: :func:`neurotunes.realism.measure_set` of the held-out pieces and of the
  training side, cut to the page's default note count and moved to C major / A minor as the shipped
  models are trained (other note counts are measured on first use and kept on disk).

Gzipped JSON (about 100 KB; 600 KB as text).  tests/test_verdicts.py checks the file against what the
code computes for a few pieces: rerun this script after changing how pieces are measured.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurotunes.evaluate import (  # noqa: E402
    REFERENCE_MEASURES_FILE,
    REFERENCE_MEASURES_FORMAT,
    REFERENCE_SETS,
    SHIPPED_MEASURES_KEY_NORMALIZED,
    SHIPPED_MEASURES_NOTES,
    _features_to_json,
    measure_with_progress,
    measured_to_dict,
    reference_split,
)
from neurotunes.metrics import piece_features  # noqa: E402


def measure(name: str) -> dict:
    started = time.time()
    pool, held_out = reference_split(name)
    held_out = [s for s in held_out if s.pitch_list()]
    options = {"key_normalized": SHIPPED_MEASURES_KEY_NORMALIZED}
    entry = {
        "held_out": [s.metadata["source"] for s in held_out],
        "features": _features_to_json([piece_features(s) for s in held_out]),
        "reference": measured_to_dict(measure_with_progress(held_out, SHIPPED_MEASURES_NOTES, **options)),
        "pool": measured_to_dict(measure_with_progress(pool, SHIPPED_MEASURES_NOTES, **options)),
    }
    print(f"{name}: {len(held_out)} held-out pieces, {len(pool)} on the training side "
          f"({time.time() - started:.0f} s)")
    return entry


def contents() -> bytes:
    data = {"format": REFERENCE_MEASURES_FORMAT, "notes": SHIPPED_MEASURES_NOTES,
            "key_normalized": SHIPPED_MEASURES_KEY_NORMALIZED,
            "sets": {name: measure(name) for name in REFERENCE_SETS}}
    # mtime=0: the same measures give the same bytes, so an unchanged file shows no diff.
    return gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing")
    args = parser.parse_args(argv)
    data = contents()
    if args.check:
        same = REFERENCE_MEASURES_FILE.exists() and REFERENCE_MEASURES_FILE.read_bytes() == data
        print(f"{REFERENCE_MEASURES_FILE.name} is {'up to date' if same else 'OUT OF DATE: run this script'}")
        return 0 if same else 1
    REFERENCE_MEASURES_FILE.write_bytes(data)
    print(f"wrote {REFERENCE_MEASURES_FILE} ({len(data) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
