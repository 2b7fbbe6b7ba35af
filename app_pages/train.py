"""Train: build a dataset (Bach chorales or your own pieces) and train the classic LSTM, or load a model."""

import pandas as pd
import streamlit as st

from neurotunes import constants as C
from neurotunes.config import ModelConfig, TrainConfig
from neurotunes.errors import NeuroTunesError
from neurotunes.ui import state
from neurotunes.ui.widgets import guarded, slug

PRESETS = {
    "Classic: 2 × LSTM 256, dropout 0.3": ModelConfig(arch="lstm", units=256, layers=2, dropout=0.3),
    "Quick: 1 × LSTM 128": ModelConfig(arch="lstm", units=128, layers=1, dropout=0.2),
    "GRU: 2 × GRU 256": ModelConfig(arch="gru", units=256, layers=2, dropout=0.3),
}

st.title("Train")
st.caption("Teach a model your music, or use the one that ships with NeuroTunes.")

shipped, mine = st.columns(2)
with shipped.container(border=True):
    st.markdown("**Shipped model** — 2 × LSTM 256 trained on Bach's chorales")
    if st.button("Use the shipped model", icon=":material/check_circle:"):
        state.set_active_model(state.DEFAULT_MODEL)
        st.toast("The Generate page now uses the shipped Bach model.")
with mine.container(border=True):
    st.markdown("**Load a model bundle** (.zip saved by NeuroTunes)")
    bundle_file = st.file_uploader("Model bundle", type=["zip"], label_visibility="collapsed")
    if bundle_file is not None and st.button("Load this model", icon=":material/upload:"):
        from neurotunes.bundle import ModelBundle

        loaded = guarded(lambda: ModelBundle.from_zip(bundle_file.getvalue(), name=bundle_file.name),
                         what=f"Could not load {bundle_file.name}")
        if loaded is not None:
            name = f"{loaded.name} ({loaded.short_hash[:6]})"
            state.trained_models()[name] = loaded
            state.set_active_model(name)
            st.success(f"Loaded **{name}**; the Generate page now uses it.")

st.subheader("Dataset")
source = st.radio("Train on", ["Bach chorales (music21)", "My pieces"], horizontal=True)
midi_uploads = []
if source.startswith("Bach"):
    pieces = st.slider("Chorales to use", 5, 400, 40, 5, help="More pieces: better model, slower training.")
else:
    accepted = state.dataset()
    st.write(f"{len(accepted)} accepted transcription(s) from the Transcribe page.")
    midi_uploads = st.file_uploader("Add MIDI files", type=list(C.MIDI_EXTENSIONS), accept_multiple_files=True)

st.subheader("Model and training")
c1, c2, c3 = st.columns(3)
preset = c1.selectbox("Architecture", list(PRESETS))
epochs = c2.slider("Epochs", 1, 50, 3)
transpose = c3.slider("Transpose ± semitones (augmentation)", 0, 6, 0)
name = st.text_input("Model name", "My LSTM", max_chars=60)


def collect_scores():
    if source.startswith("Bach"):
        from neurotunes.corpus import load_corpus

        bar = st.progress(0.0, text="Reading chorales…")
        scores = load_corpus("bach", limit=pieces, progress=lambda i, n: bar.progress(min(i / pieces, 1.0), text="Reading chorales…"))
        bar.empty()
        return scores, f"{len(scores)} Bach chorales"
    from neurotunes.midi_io import midi_to_score

    scores = list(state.dataset().values())
    for f in midi_uploads or []:
        try:
            scores.append(midi_to_score(f.getvalue(), name=f.name))
        except NeuroTunesError as exc:
            st.warning(f"Skipped {f.name}: {exc}")
    if not scores:
        raise NeuroTunesError("your dataset is empty: accept transcriptions or add MIDI files first")
    return scores, f"{len(scores)} of my pieces"


if st.button("Train", type="primary", icon=":material/model_training:"):
    def run():
        from neurotunes.dataset import split_dataset
        from neurotunes.training import train

        scores, description = collect_scores()
        dataset = split_dataset(scores, validation_fraction=0.15 if len(scores) >= 4 else 0.0, description=description)
        st.write(f"Training on {len(dataset.train)} pieces, validating on {len(dataset.validation)}.")
        bar = st.progress(0.0, text="Starting TensorFlow…")
        chart = st.empty()
        rows = []

        def report(p):
            eta = f" · about {p.eta_s:.0f} s left" if p.eta_s is not None else ""
            bar.progress(p.fraction, text=f"Epoch {p.epoch}/{p.epochs} · loss {p.loss:.3f}{eta}")
            if p.batch is None:
                rows.append({"epoch": p.epoch, "train loss": p.loss, **({"validation loss": p.val_loss} if p.val_loss is not None else {})})
                chart.line_chart(pd.DataFrame(rows).set_index("epoch"))

        result = train(dataset, PRESETS[preset], TrainConfig(epochs=epochs, transpose_semitones=transpose, patience=0),
                       on_progress=report, name=name or "My model")
        bar.progress(1.0, text="Done")
        key = f"{result.bundle.name} ({result.bundle.short_hash[:6]})"
        state.trained_models()[key] = result.bundle
        state.set_active_model(key)
        st.session_state[state.TRAIN_HISTORY] = rows
        st.success(f"Trained **{key}**. The Generate page now uses it.")

    guarded(run, what="Training stopped")

if state.trained_models():
    st.subheader("Models in this session")
    for key, bundle in state.trained_models().items():
        c1, c2 = st.columns([3, 1])
        nll = bundle.metrics.get("val_nll_per_note")
        c1.write(f"**{key}** · {bundle.model.layers} × {bundle.model.arch.upper()} {bundle.model.units}"
                 + (f" · validation NLL {nll:.2f} nats/note" if nll else ""))
        c2.download_button("Download .zip", bundle.to_zip(), file_name=f"{slug(key)}.zip", mime="application/zip",
                           key=f"dl_{key}", icon=":material/download:")
