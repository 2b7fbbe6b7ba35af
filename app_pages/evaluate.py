"""Evaluate: generate samples from one or more models and compare them, metric by metric, with real music."""

import streamlit as st

from neurotunes.constants import SHIPPED_MODELS
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, heavy_job, show_score

st.title("Evaluate")
st.caption("Is this model any good? Each model writes a few pieces; every piece is measured and the set is compared "
           "with real music that no shipped model trained on.")

from neurotunes.evaluate import MAX_SAMPLES, REFERENCE_SETS  # noqa: E402  - light: no TensorFlow, no music21

MY_DATASET = "my dataset"
models = [*SHIPPED_MODELS, *state.trained_models()]
built = st.session_state.get(state.BUILT_DATASET)
references = {k: v[0] for k, v in REFERENCE_SETS.items()}
if built is not None and len(built.validation) >= 2:
    references[MY_DATASET] = f"My dataset's validation pieces ({len(built.validation)})"

with st.form("evaluate_form"):
    chosen = st.multiselect("Models", models, default=[state.active_model()], format_func=cache.model_label,
                            max_selections=6)
    reference = st.radio("Compare with", list(references), format_func=references.get, horizontal=True)
    c1, c2, c3, c4 = st.columns(4)
    samples = c1.slider("Pieces per model", 1, min(50, MAX_SAMPLES), 8,
                        help="More pieces: a steadier verdict, a longer wait.")
    notes = c2.slider("Notes per piece", 30, 600, 200, 10)
    temperature = c3.slider("Temperature", 0.1, 2.0, 1.0, 0.05)
    top_p = c4.slider("Top-p (1 = off)", 0.05, 1.0, 1.0, 0.05)
    run = st.form_submit_button("Evaluate", type="primary", icon=":material/analytics:")


def evaluate() -> None:
    from neurotunes.config import GenerateConfig
    from neurotunes.errors import BadConfig
    from neurotunes.evaluate import evaluate_models, reference_set

    if not chosen:
        raise BadConfig("choose at least one model to evaluate")
    if reference == MY_DATASET:
        pieces = list(built.validation)
    else:
        bar = st.progress(0.0, text="Reading the reference pieces…")
        pieces = reference_set(reference, progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                                   text="Reading the reference pieces…"))
        bar.empty()
    bundles = {cache.model_label(name): cache.bundle_for(name) for name in chosen}
    total = samples * len(bundles)
    done: dict[str, int] = {}
    bar = st.progress(0.0, text="Composing…")

    def progress(name: str, count: int, _: int) -> None:
        done[name] = count
        bar.progress(min(sum(done.values()) / total, 1.0), text=f"Composing: {name}, piece {count} of {samples}")

    config = GenerateConfig(length=int(notes), temperature=float(temperature), top_p=float(top_p))
    st.session_state[state.EVALUATION] = evaluate_models(bundles, pieces, reference_name=references[reference],
                                                         samples=int(samples), config=config, on_progress=progress)
    bar.empty()


if run:
    def evaluate_in_line() -> None:
        with heavy_job("Evaluating"):
            evaluate()

    guarded(evaluate_in_line, what="Evaluation failed")

result = st.session_state.get(state.EVALUATION)
if result is None:
    st.info("Choose models and a reference set, then press **Evaluate**.", icon=":material/analytics:")
    st.stop()

import pandas as pd  # noqa: E402

from neurotunes.metrics import DISTRIBUTION_FEATURES, FEATURE_LABELS  # noqa: E402

st.divider()
st.subheader(f"Against {result.reference_name}")
for report in result.models:
    if report.error:
        st.warning(report.error, icon=":material/warning:")
    elif report.empty_samples:
        st.caption(f"{report.name}: {report.empty_samples} piece(s) without notes were left out.")
good = [m for m in result.models if not m.error]
if not good:
    st.stop()

st.markdown("**How close is each model's music to the real pieces?** OA, overlapping area: 1 means the model's "
            "pieces sit among the real ones as closely as the real ones sit among each other; 0, nowhere near. "
            "KL divergence: 0 is identical; lower is closer.")


def short(name: str) -> str:
    return name.removesuffix(" (shipped)")


comparison = {m.name: {c.feature: c for c in m.comparisons} for m in good}
rows = []
for feature in DISTRIBUTION_FEATURES:
    row = {"metric": FEATURE_LABELS[feature]}
    for m in good:
        c = comparison[m.name][feature]
        row[f"{short(m.name)} OA"] = round(c.overlap, 3)
        row[f"{short(m.name)} KL"] = round(c.kl_divergence, 3)
    if len(good) > 1:
        row["closest"] = short(max(good, key=lambda m: comparison[m.name][feature].overlap).name)
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

import json  # noqa: E402

st.download_button("Report (JSON)", json.dumps(result.to_dict(), indent=1), file_name="neurotunes-evaluation.json",
                   mime="application/json", icon=":material/download:")
st.markdown("**The models on the real pieces** (their own encoding; lower NLL and higher accuracy are better)")
st.dataframe(pd.DataFrame([{"model": m.name, "NLL per note (nats)": m.model.get("nll_per_note"),
                            "perplexity per token": m.model.get("perplexity_per_token"),
                            "next-note pitch accuracy": m.model.get("pitch_accuracy"),
                            "pieces measured": len(m.features)} for m in good]), hide_index=True, width="stretch")

from neurotunes.plotting import DEGREE_NAMES, feature_boxes, histogram_profiles  # noqa: E402

REAL = "real pieces"
sets = {REAL: result.reference_features, **{m.name: m.features for m in good}}
scalars = ["pitch_range", "note_density", "polyphony", "in_scale_ratio", "on_grid_ratio", "harmonic_progression",
           "longest_run", "top_pitch_share"]
st.plotly_chart(feature_boxes(sets, scalars, FEATURE_LABELS, reference=REAL), width="stretch", key="eval_boxes")
c1, c2 = st.columns(2)
c1.plotly_chart(histogram_profiles(sets, "pitch_class_histogram", reference=REAL, tick_labels=DEGREE_NAMES,
                                   title="Pitch classes, as scale degrees of each piece's key"),
                width="stretch", key="eval_pch")
c2.plotly_chart(histogram_profiles(sets, "ioi_histogram", reference=REAL,
                                   tick_labels=[f"{(i + 1) / 4:g}" for i in range(16)],
                                   title="Time between onsets (beats)"), width="stretch", key="eval_ioi")
st.plotly_chart(histogram_profiles(sets, "interval_histogram", reference=REAL,
                                   tick_labels=[f"{i:+d}" for i in range(-12, 13)],
                                   title="Melodic intervals of the top line (semitones)"), width="stretch",
                key="eval_intervals")

with st.expander("Listen to the pieces", icon=":material/headphones:"):
    name = st.selectbox("Model", [m.name for m in good], key="eval_listen_model")
    report = next(m for m in good if m.name == name)
    index = st.number_input("Piece", 1, len(report.pieces), 1, key="eval_listen_piece")
    show_score(report.pieces[int(index) - 1], key=f"eval_{name}_{index}", playback_controls=False,
               file_stem=f"neurotunes-evaluation-{name}-piece{int(index)}")
