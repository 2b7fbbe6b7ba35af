"""Evaluate: generate samples from one or more models and compare them, metric by metric, with real music."""

import streamlit as st

from neurotunes.config import GenerateConfig
from neurotunes.ui import cache, evaluate_form, state
from neurotunes.ui.evaluate_form import reference_choices, run_evaluation
from neurotunes.ui.widgets import guarded, setting_widget, show_score

st.title("Evaluate")
st.caption("Is this model any good? Each model writes a few pieces; every piece is measured and the set is compared "
           "with real music that no shipped model trained on.")

from neurotunes.evaluate import MAX_SAMPLES  # noqa: E402  - light: no TensorFlow, no music21

built = st.session_state.get(state.BUILT_DATASET)
references = reference_choices(built)
evaluate_form.start_with_defaults(list(references))

# Choosing the fiddle model moves "Compare with" to the fiddle tunes (like with like).  No st.form: a form keeps
# a changed setting only once its button is pressed, so a visit to another page lost it.
chosen = st.multiselect("Models", evaluate_form.model_choices(), format_func=cache.model_label, max_selections=6,
                        key=state.EVALUATE_MODELS, on_change=evaluate_form.follow_models, args=(list(references),))
with st.container(border=True, key=state.EVALUATE_FORM):
    reference = st.radio("Compare with", list(references), format_func=references.get, horizontal=True,
                         key=state.EVALUATE_REFERENCE,
                         help="Each model is best compared with the music it learned: the Bach model with Bach's "
                              "chorales, the fiddle model with fiddle tunes.")
    c1, c2, c3, c4 = st.columns(4)
    samples = c1.slider("Pieces per model", 1, min(50, MAX_SAMPLES), 8, key=state.EVALUATE_SAMPLES,
                        help="More pieces: a steadier verdict, a longer wait.")
    notes = c2.slider("Notes per piece", 30, 600, 200, 10, key=state.EVALUATE_NOTES,
                      help="Longer pieces show more of how a model goes on; shorter ones come sooner.")
    sampling = {**setting_widget(c3, GenerateConfig, "temperature", page=state.EVALUATE_PAGE),
                **setting_widget(c4, GenerateConfig, "top_p", page=state.EVALUATE_PAGE)}
    run = st.button("Evaluate", type="primary", icon=":material/analytics:", key=state.EVALUATE_BUTTON)

if run:
    config = {"length": int(notes), **sampling}  # each model completes them with its own suggestions
    guarded(lambda: run_evaluation(chosen, reference, built=built, samples=int(samples), config=config),
            what="Evaluation failed")

result = st.session_state.get(state.EVALUATION)
if result is None:
    st.info("Choose models and a reference set, then press **Evaluate**.", icon=":material/analytics:")
    st.stop()

import pandas as pd  # noqa: E402

from neurotunes.metrics import FEATURE_LABELS  # noqa: E402

def short(name: str) -> str:
    return name.removesuffix(" (shipped)")


st.divider()
st.subheader(f"Against {result.reference_name}")
for report in result.models:
    if report.error:
        st.warning(report.error, icon=":material/warning:")
    elif report.empty_samples:
        st.caption(f"{report.name}: {report.empty_samples} piece(s) without notes were left out.")
good = result.measured
if not good:
    st.stop()

# The verdict first, in words: which model comes closest, and what that means.
best = result.closest()
passes = best.realism is not None and best.realism.passes
with st.container(border=True, key="eval_verdict"):
    st.markdown(f"### {':material/check_circle:' if passes else ':material/flag:'} {result.headline(short=short)}")
    if conclusion := result.conclusion(best):
        st.markdown(conclusion)
    for report in good:
        if report is not best and len(good) > 1:
            st.markdown(f"**{short(report.name)}** — {result.plain_verdict(report)}.")
if result.verdicts():
    st.caption("A measure passes when the model's pieces are no further from the real ones than sets of real "
               "pieces of the same size are (20 such sets drawn from the pieces the model trained on; the bar is "
               "1.25 x their 95th percentile). The classifier learns to tell a model's piece from a real one; "
               "50% means it can only guess, and real pieces told from other real pieces show what guessing "
               "looks like with this few pieces.")

st.markdown("**How close is each model's music to the real pieces?** Overlap: 1 means the model's pieces sit "
            "among the real ones as closely as the real ones sit among each other; 0, nowhere near. "
            "Divergence (KL): 0 is identical; lower is closer.")


st.dataframe(pd.DataFrame(result.distance_table(short=short)).rename(
    columns=lambda c: c.replace(" OA", " overlap").replace(" KL", " divergence")), hide_index=True, width="stretch")

import json  # noqa: E402

st.download_button("Report (JSON)", json.dumps(result.to_dict(), indent=1), file_name="neurotunes-evaluation.json",
                   mime="application/json", icon=":material/download:")
st.markdown("**The models on the real pieces**: how surprised each model is by the real next note (surprise "
            "per note, in nats: lower is better), how many notes it hesitates between, how often its first guess "
            "for the next pitch is right.")
st.dataframe(pd.DataFrame(evaluate_form.plain_model_table(result, short)), hide_index=True, width="stretch")
realism_rows = result.realism_table(short=short)
if realism_rows:
    st.markdown("**Inside the real range?** For each measure, how many times further from the held-out pieces "
                "the model's set is than a typical set of real pieces (1 = as close as real music; n/a: the "
                "real pieces have no chords).")
    st.dataframe(pd.DataFrame(realism_rows).rename(
        columns=lambda c: c.replace(" x real", " × a real set's distance").replace(" inside", " passes")),
        hide_index=True, width="stretch")

from neurotunes.plotting import DEGREE_NAMES, feature_boxes, histogram_profiles  # noqa: E402

REAL = "real pieces"
sets = {REAL: result.reference_features, **{m.name: m.features for m in good}}
scalars = ["pitch_range", "note_density", "polyphony", "in_scale_ratio", "on_grid_ratio", "harmonic_progression",
           "longest_run", "top_pitch_share"]
st.plotly_chart(feature_boxes(sets, scalars, FEATURE_LABELS, reference=REAL), width="stretch",
                key=state.item_key(state.EVALUATE_CHART, "boxes"))
c1, c2 = st.columns(2)
c1.plotly_chart(histogram_profiles(sets, "pitch_class_histogram", reference=REAL, tick_labels=DEGREE_NAMES,
                                   title="Pitch classes, as scale degrees of each piece's key"),
                width="stretch", key=state.item_key(state.EVALUATE_CHART, "pch"))
c2.plotly_chart(histogram_profiles(sets, "ioi_histogram", reference=REAL,
                                   tick_labels=[f"{(i + 1) / 4:g}" for i in range(16)],
                                   title="Time between onsets (beats)"), width="stretch",
                key=state.item_key(state.EVALUATE_CHART, "ioi"))
st.plotly_chart(histogram_profiles(sets, "interval_histogram", reference=REAL,
                                   tick_labels=[f"{i:+d}" for i in range(-12, 13)],
                                   title="Melodic intervals of the top line (semitones)"), width="stretch",
                key=state.item_key(state.EVALUATE_CHART, "intervals"))

with st.expander("Listen to the pieces", icon=":material/headphones:"):
    name = st.selectbox("Model", [m.name for m in good], key=state.EVALUATE_LISTEN_MODEL)
    report = next(m for m in good if m.name == name)
    index = st.number_input("Piece", 1, len(report.pieces), 1, key=state.EVALUATE_LISTEN_PIECE)
    show_score(report.pieces[int(index) - 1], key=state.item_key(state.EVALUATE_PIECE, f"{name}_{index}"),
               playback_controls=False,
               file_stem=f"neurotunes-evaluation-{name}-piece{int(index)}")
