"""Dataset: combine your pieces, uploads and music21 corpora; normalize; split; look at the statistics."""

import streamlit as st

from neurotunes import encodings
from neurotunes.corpus import CORPORA, corpus_paths
from neurotunes.dataset import build_dataset
from neurotunes.encodings import EncodingConfig
from neurotunes.plotting import histogram_bars, pitch_histogram
from neurotunes.ui import state
from neurotunes.ui.widgets import guarded

DS = state.DATASET_SETTINGS  # each choice's widget key: kept across pages and refreshes (ui/persist.py)

st.title("Dataset")
st.caption("Gather the music a model learns from. Nothing here is lost when you switch pages.")


@st.cache_data(show_spinner=False)
def corpus_size(key: str) -> int:
    return len(corpus_paths(key))


accepted = state.dataset()
st.subheader("Sources")
use_accepted = st.checkbox(f"My accepted transcriptions ({len(accepted)})", value=bool(accepted),
                           disabled=not accepted, help="Accept transcriptions on the Transcribe page.")
uploads = st.file_uploader("MIDI, MusicXML or ABC files, or a .zip of them", accept_multiple_files=True,
                           type=["mid", "midi", "xml", "musicxml", "mxl", "abc", "zip"])
corpora = st.multiselect(
    "Corpora that ship with music21", list(CORPORA),
    format_func=lambda k: f"{CORPORA[k].title} ({corpus_size(k)} files)",
    help="; ".join(f"{c.title}: {c.description}" for c in CORPORA.values()), key=DS["corpora"],
)
per_corpus = st.slider("Pieces per corpus", 5, 500, 60, 5, disabled=not corpora, key=DS["per_corpus"],
                       help="Parsing takes a moment per piece the first time; later runs read a cache.")

st.subheader("Preparation")
ENCODINGS = encodings.descriptions()
encoding_name = st.radio("Encoding", list(ENCODINGS), format_func=ENCODINGS.get, key=DS["encoding"])
c1, c2, c3 = st.columns(3)
key_norm = c1.checkbox("Normalize key (to C major / A minor)", key=DS["key_normalization"])
tempo_norm = c2.checkbox("Use the tempo estimated from recordings", value=True, key=DS["tempo_normalization"],
                         help="Puts transcriptions on a beat grid that fits how they were played.")
validation = c3.slider("Validation share (by piece)", 0.0, 0.5, 0.1, 0.05, key=DS["validation"])


def build():
    skipped: list[str] = []
    bars = {key: st.progress(0.0, text=f"Reading {CORPORA[key].title}…") for key in corpora}
    try:
        dataset = build_dataset(
            accepted=list(accepted.values()) if use_accepted else [],
            files=[(u.name, u.getvalue()) for u in uploads or []], corpora=corpora, per_corpus=per_corpus,
            skipped=skipped, validation_fraction=validation, key_normalization=key_norm,
            tempo_normalization=tempo_norm, encoding=EncodingConfig(name=encoding_name),
            corpus_progress=lambda key, i, n: bars[key].progress(
                i / n, text=f"Reading {CORPORA[key].title}: {i} of {n} pieces"),
        )
    finally:
        for bar in bars.values():
            bar.empty()
        if skipped:
            with st.expander(f"Skipped {len(skipped)} file(s)", icon=":material/warning:", expanded=True):
                for message in skipped[:200]:
                    st.warning(message)
    st.session_state[state.BUILT_DATASET] = dataset


if st.button("Build dataset", type="primary", icon=":material/dataset:", key="nt_build_dataset"):
    guarded(build, what="Could not build the dataset")

dataset = st.session_state.get(state.BUILT_DATASET)
if dataset is None:
    st.info("Choose sources and press **Build dataset**. The Train page uses the dataset built here.",
            icon=":material/dataset:")
else:
    stats = dataset.stats()
    st.subheader("Statistics")
    st.caption(stats.description)
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Training pieces", stats.pieces_train)
    c2.metric("Validation pieces", stats.pieces_validation)
    c3.metric("Notes", f"{stats.notes:,}")
    c4.metric("Tokens", f"{stats.tokens:,}")
    c5.metric("Vocabulary", stats.vocabulary_size)
    hists = dataset.histograms()
    steps = dataset.encoding.steps_per_quarter
    a, b = st.columns(2)
    a.plotly_chart(pitch_histogram(hists["pitch"]), width="stretch")
    b.plotly_chart(histogram_bars(hists["duration_steps"], title="Durations", x_title="quarter notes",
                                  label=lambda d: f"{d / steps:g}"), width="stretch")
    st.plotly_chart(histogram_bars(hists["key"], title="Keys", x_title="key"), width="stretch")
