"""The Evaluate page's choices and its one action: compare like with like by default, then read the held-out
pieces, let every chosen model compose and measure everything with a progress bar that counts pieces, in the
line of heavy jobs; the result becomes the session's evaluation.

A named reference set never waits on the corpus: its held-out pieces are read by name (assets/held_out.json),
their features and both sides' realism measures come from assets/reference_measures.json.gz (or from the
disk, measured on first use for another note count), so no phase sits still for more than a piece's time.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import streamlit as st

from ..constants import SHIPPED_MODELS
from ..dataset import Dataset
from ..errors import BadConfig
from ..evaluate import (REFERENCE_MUSIC, REFERENCE_SETS, REFERENCE_SHORT_NAMES, Evaluation, evaluate_models,
                        held_out_pieces, home_reference, reference_features, reference_measures)
from . import cache, state
from .widgets import heavy_job

#: The reference choice that means the validation pieces of the dataset built on the Dataset page.
MY_DATASET = "my dataset"

#: The model table's columns in words (neurotunes.evaluate.Evaluation.model_table keeps the technical names).
PLAIN_COLUMNS = {
    "NLL per note (nats)": "surprise per note (lower is better)",
    "perplexity per token": "notes it hesitates between (lower is better)",
    "next-note pitch accuracy": "guesses the next pitch",
    "inside the real range": "passes on",
    "classifier spots it": "a classifier spots it",
    "real vs real": "real told from real (a guess)",
}
#: Columns shown as percentages.
PERCENT_COLUMNS = ("guesses the next pitch", "a classifier spots it", "real told from real (a guess)")


def reference_choices(built: Dataset | None) -> dict[str, str]:
    """Reference sets to compare with, by key, with their labels (the built dataset's validation pieces
    when it has at least two)."""
    choices = {key: label for key, (label, *_) in REFERENCE_SETS.items()}
    if built is not None and len(built.validation) >= 2:
        choices[MY_DATASET] = f"My dataset's validation pieces ({len(built.validation)})"
    return choices


def model_choices() -> list[str]:
    return [*SHIPPED_MODELS, *state.trained_models()]


def _home(name: str) -> str | None:
    bundle = state.trained_models().get(name)
    return home_reference(name, bundle)


def matching_reference(chosen: Sequence[str], choices: Sequence[str]) -> str | None:
    """The reference set every chosen model learned from (the Bach set for the Bach model, the fiddle set for
    the fiddle model); None when they learned different music or none of the sets'."""
    homes = {_home(name) for name in chosen}
    home = homes.pop() if len(homes) == 1 else None
    return home if home in choices else None


def start_with_defaults(choices: Sequence[str]) -> None:
    """The first time (and whenever a choice has gone): the model the Generate page uses, compared with the
    music it learned."""
    kept = st.session_state.get(state.EVALUATE_MODELS)
    models = [state.active_model()] if kept is None else [m for m in kept if m in model_choices()]
    st.session_state[state.EVALUATE_MODELS] = models
    if st.session_state.get(state.EVALUATE_REFERENCE) not in choices:
        st.session_state[state.EVALUATE_REFERENCE] = matching_reference(models, choices) or next(iter(choices))


def follow_models(choices: Sequence[str]) -> None:
    """The models changed: compare them with the music they learned, when they all learned the same."""
    home = matching_reference(st.session_state.get(state.EVALUATE_MODELS, []), choices)
    if home is not None:
        st.session_state[state.EVALUATE_REFERENCE] = home


class _Bar:
    """One progress bar that counts pieces, phase by phase: "Bach chorales LSTM: composing — 3 of 8"."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="Starting…")

    def __call__(self, what: str, done: int, total: int) -> None:
        self.bar.progress(min(done / max(total, 1), 1.0), text=f"{what} — {done} of {total}")

    def empty(self) -> None:
        self.bar.empty()


def run_evaluation(chosen: Sequence[str], reference: str, *, built: Dataset | None, samples: int,
                   config: Mapping[str, Any]) -> Evaluation:
    """Evaluate the models named in ``chosen`` (shipped names or session keys) against ``reference``, each
    with the settings in ``config`` and its own suggestions for the rest."""
    if not chosen:
        raise BadConfig("choose at least one model to evaluate")
    choices = reference_choices(built)
    if reference not in choices:
        raise BadConfig("choose a set of real pieces to compare with")
    with heavy_job("Evaluating"):
        bar = _Bar()
        try:
            bundles = {cache.model_label(name): cache.bundle_for(name) for name in chosen}
            if reference == MY_DATASET:
                pieces, pool = list(built.validation), list(built.train)  # the real range: the pieces it trains on
                features, real = None, None
            else:
                pieces = held_out_pieces(reference, progress=lambda i, n: bar("Reading the held-out pieces", i, n))
                features = reference_features(reference, [p for p in pieces if p.pitch_list()], on_step=bar)
                pool = ()

                def real(notes: int, key_normalized: bool):
                    return reference_measures(reference, notes, key_normalized=key_normalized, held_out=pieces,
                                              on_step=bar)

            result = evaluate_models(
                bundles, pieces, reference_name=choices[reference], samples=samples, config=config, pool=pool,
                corpus_name=REFERENCE_SHORT_NAMES.get(reference, "your dataset"),
                music_name=REFERENCE_MUSIC.get(reference, "pieces of your dataset"),
                known_features=features, real_measures=real, on_step=bar)
        finally:
            bar.empty()
    st.session_state[state.EVALUATION] = result
    return result


def plain_model_table(result: Evaluation, short) -> list[dict]:
    """The model table with its columns in words and its shares as percentages."""
    rows = []
    for row in result.model_table():
        plain = {PLAIN_COLUMNS.get(k, k): v for k, v in row.items()}
        plain["model"] = short(plain["model"])
        for column in PERCENT_COLUMNS:
            if isinstance(plain.get(column), (int, float)):
                plain[column] = f"{plain[column]:.0%}"
        rows.append(plain)
    return rows
