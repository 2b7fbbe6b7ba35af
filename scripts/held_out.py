"""Write assets/held_out.json: which pieces of each reference corpus the shipped models never saw.

    .venv/bin/python scripts/held_out.py

The reference split (neurotunes.dataset.REFERENCE_SPLIT_SEED / REFERENCE_VALIDATION_FRACTION) of each
corpus in neurotunes.evaluate.REFERENCE_SETS, as the sources of its held-out pieces.  Training on a
corpus with ``CorpusRecipe(skip_held_out=True)`` (the Train page's quick run) leaves these out without
parsing the whole corpus first, so a fine-tuned model is still judged on music it never saw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurotunes.corpus import HELD_OUT_FILE, load_corpus  # noqa: E402
from neurotunes.dataset import REFERENCE_SPLIT_SEED, REFERENCE_VALIDATION_FRACTION, split_dataset  # noqa: E402
from neurotunes.evaluate import REFERENCE_SETS  # noqa: E402


def held_out(corpus: str, limit: int) -> list[str]:
    scores = load_corpus(corpus, limit=limit or None)
    split = split_dataset(scores, validation_fraction=REFERENCE_VALIDATION_FRACTION, seed=REFERENCE_SPLIT_SEED)
    return [s.metadata["source"] for s in split.validation]


def main() -> int:
    lists = {corpus: held_out(corpus, limit) for _, corpus, limit in REFERENCE_SETS.values()}
    HELD_OUT_FILE.write_text(json.dumps(lists, indent=1) + "\n")
    print(f"wrote {HELD_OUT_FILE}: " + ", ".join(f"{k} {len(v)} pieces" for k, v in lists.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
