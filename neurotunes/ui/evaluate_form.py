"""The Evaluate page's one action: read the reference pieces (and the training side of their split, for the
real range), let every chosen model compose, compare, with progress bars, in the line of heavy jobs; the result
becomes the session's evaluation."""

from __future__ import annotations

from typing import Sequence

import streamlit as st

from ..config import GenerateConfig
from ..dataset import Dataset
from ..errors import BadConfig
from ..evaluate import REFERENCE_SETS, REFERENCE_SHORT_NAMES, Evaluation, evaluate_models, reference_split
from . import cache, state
from .widgets import heavy_job

#: The reference choice that means the validation pieces of the dataset built on the Dataset page.
MY_DATASET = "my dataset"


def reference_choices(built: Dataset | None) -> dict[str, str]:
    """Reference sets to compare with, by key, with their labels (the built dataset's validation pieces
    when it has at least two)."""
    choices = {key: label for key, (label, *_) in REFERENCE_SETS.items()}
    if built is not None and len(built.validation) >= 2:
        choices[MY_DATASET] = f"My dataset's validation pieces ({len(built.validation)})"
    return choices


def run_evaluation(chosen: Sequence[str], reference: str, *, built: Dataset | None, samples: int,
                   config: GenerateConfig) -> Evaluation:
    """Evaluate the models named in ``chosen`` (shipped names or session keys) against ``reference``."""
    if not chosen:
        raise BadConfig("choose at least one model to evaluate")
    with heavy_job("Evaluating"):
        if reference == MY_DATASET:
            pieces = list(built.validation) if built is not None else []
            pool = list(built.train) if built is not None else []  # the real range: the pieces it trains on
        else:
            bar = st.progress(0.0, text="Reading the reference pieces…")
            pool, pieces = reference_split(reference, progress=lambda done, total: bar.progress(
                done / max(total, 1), text="Reading the reference pieces…"))
            bar.empty()
        bundles = {cache.model_label(name): cache.bundle_for(name) for name in chosen}
        total = samples * len(bundles)
        done: dict[str, int] = {}
        bar = st.progress(0.0, text="Composing…")

        def progress(name: str, count: int, _: int) -> None:
            done[name] = count
            bar.progress(min(sum(done.values()) / total, 1.0), text=f"Composing: {name}, piece {count} of {samples}")

        result = evaluate_models(bundles, pieces, reference_name=reference_choices(built)[reference],
                                 samples=samples, config=config, on_progress=progress, pool=pool,
                                 corpus_name=REFERENCE_SHORT_NAMES.get(reference, "your dataset"))
        bar.empty()
    st.session_state[state.EVALUATION] = result
    return result
