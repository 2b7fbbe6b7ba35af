"""Train: fit a model on the dataset in the background with live curves and samples, or load one."""

import streamlit as st

from neurotunes import models
from neurotunes.bundle import ModelBundle
from neurotunes.config import LR_SCHEDULES
from neurotunes.plotting import training_curves
from neurotunes.ui import state, train_form
from neurotunes.shards import ShardSet, prepared_folders, shards_root
from neurotunes.ui.train_form import FROM_DATASET, PRESETS, QUICK, SHARDS, START_FROM
from neurotunes.ui.widgets import guarded, show_score, slug

train_form.start_with_defaults()

st.title("Train")
st.caption("Teach a model your music — it keeps training while you visit other pages — or use a ready one.")

shipped, mine = st.columns(2)
with shipped.container(border=True):
    st.markdown("**Shipped model** — 2 × LSTM 256 with attention, trained on Bach's chorales in C major / A minor")
    if st.button("Use the shipped model", icon=":material/check_circle:"):
        state.set_active_model(state.DEFAULT_MODEL)
        st.toast("The Generate page now uses the shipped Bach model.")
with mine.container(border=True):
    st.markdown("**Load a model bundle** (.zip saved by NeuroTunes)")
    bundle_file = st.file_uploader("Model bundle", type=["zip"], label_visibility="collapsed")
    if bundle_file is not None and st.button("Load this model", icon=":material/upload:"):
        loaded = guarded(lambda: ModelBundle.from_zip(bundle_file.getvalue(), name=bundle_file.name),
                         what=f"Could not load {bundle_file.name}")
        if loaded is not None:
            name = f"{loaded.name} ({loaded.short_hash[:6]})"
            state.trained_models()[name] = loaded
            state.set_active_model(name)
            st.success(f"Loaded **{name}**; the Generate page now uses it.")

job = st.session_state.get(state.TRAIN_JOB)
busy = job is not None and job.active
# Every setting is keyed and kept for the session: Streamlit otherwise drops a widget's value on a page switch.
kept = {"disabled": busy, "persist_state": "session"}

st.subheader("Start from")
st.radio("Start from", list(START_FROM), key=state.TRAIN_START_FROM, on_change=train_form.apply_start_from,
         label_visibility="collapsed", **kept,
         help="Teaching a shipped model your pieces takes a minute or two and keeps what it already knows; "
              "a new model starts from nothing and needs many pieces and epochs to sound like music.")
base = train_form.fine_tune_base()

st.subheader("Dataset")
built = st.session_state.get(state.BUILT_DATASET)
prepared = {folder.name: folder for folder in prepared_folders()}
sources = ([FROM_DATASET] if built is not None else []) + [QUICK] + ([SHARDS] if prepared else [])
if st.session_state.get(state.TRAIN_SOURCE) not in sources:  # the built dataset is gone
    st.session_state[state.TRAIN_SOURCE] = sources[0]
source = st.radio("Train on", sources, horizontal=True, key=state.TRAIN_SOURCE, **kept)
if source == QUICK:
    st.slider("Chorales", 5, 400, step=5, key=state.TRAIN_PIECES, **kept,
              help="More pieces: better model, slower training.")
    st.checkbox("Move every chorale to C major / A minor", key=state.TRAIN_KEY_NORMALIZE,
                **{**kept, "disabled": busy or base is not None},
                help="The model learns harmony once instead of in twelve keys (the shipped models are trained "
                     "this way; a model you teach keeps its own choice); Generate's Transpose moves its music to "
                     "any key.")
elif source == SHARDS:
    if st.session_state.get(state.TRAIN_SHARDS) not in prepared:  # a folder removed since it was chosen
        st.session_state[state.TRAIN_SHARDS] = next(iter(prepared))
    st.selectbox("Shards folder", list(prepared), key=state.TRAIN_SHARDS, **kept,
                 help=f"Folders prepared with `neurotunes prepare SRC... -o {shards_root()}/NAME`; training streams "
                      "them from disk, so a corpus of any size fits.")
    chosen = guarded(lambda: ShardSet.load(prepared[st.session_state[state.TRAIN_SHARDS]]),
                     what="Could not read these shards")
    if chosen is not None:
        t, v = chosen.totals["train"], chosen.totals["validation"]
        st.caption(f"{t['pieces']:,} training / {v['pieces']:,} validation pieces · {t['tokens']:,} tokens in "
                   f"{len(chosen.files['train'])} files · {chosen.encoding.name} encoding"
                   + (" · in C major / A minor" if chosen.key_normalized else ""))
else:
    s = built.stats()
    st.caption(f"{s.description} · {s.pieces_train} training / {s.pieces_validation} validation pieces")

st.subheader("Model and training")
c1, c2, c3 = st.columns(3)
if base is None:
    c1.selectbox("Architecture", list(PRESETS), key=state.TRAIN_PRESET, on_change=train_form.apply_preset, **kept)
else:
    c1.caption(f"Keeps **{base.name}**'s architecture ({base.model.layers} × {base.model.arch} {base.model.units}) "
               f"and encoding; the settings below that shape a model do not apply.")
c2.slider("Epochs", 1, 100, key=state.TRAIN_EPOCHS, **kept,
          help="When resuming: epochs to add; the numbering goes on from the stopped run's.")
c3.slider("Transpose ± semitones (augmentation)", 0, 6, key=state.TRAIN_TRANSPOSE, **kept)
with st.expander("More settings", icon=":material/tune:"):
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox("Cell", models.names(), key=state.TRAIN_ARCH, **kept)
    c2.number_input("Layers", 1, 10, key=state.TRAIN_LAYERS, **kept)
    c3.select_slider("Units", [32, 64, 128, 256, 384, 512], key=state.TRAIN_UNITS, **kept)
    c4.slider("Dropout", 0.0, 0.6, step=0.05, key=state.TRAIN_DROPOUT, **kept)
    c1, c2, c3, c4 = st.columns(4)
    c1.select_slider("Embedding size", [16, 32, 64, 128, 256], key=state.TRAIN_EMBEDDING, **kept)
    c2.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3], key=state.TRAIN_LR, **kept)
    c3.selectbox("Learning-rate schedule", LR_SCHEDULES, key=state.TRAIN_SCHEDULE, **kept)
    c4.number_input("Early stop after epochs without progress (0 = off)", 0, 20,
                    key=state.TRAIN_PATIENCE, **kept)
    c1, c2 = st.columns(2)
    c1.select_slider("Training window (tokens)", [64, 128, 256, 384, 512], key=state.TRAIN_WINDOW, **kept,
                     help="How much music the model reads at once, and how far its attention looks back; about "
                          "40 tokens make a bar of a chorale. Longer windows learn phrase plans and train slower.")
    c2.slider("Play a sample every N epochs", 1, 10, key=state.TRAIN_SAMPLE_EVERY, **kept)
st.text_input("Model name", max_chars=60, key=state.TRAIN_NAME, **kept)


def start(resume_from=None, resume_optimizer=None):
    if source == SHARDS:
        dataset = ShardSet.load(prepared[st.session_state[state.TRAIN_SHARDS]])
    else:
        dataset = train_form.quick_dataset(base) if source == QUICK else built
    return train_form.start_job(dataset, resume_from, resume_optimizer)


c1, c2, _ = st.columns([1, 1.6, 3])
# A failed start keeps its error on screen; a started job redraws the page with its progress.
if c1.button("Train", type="primary", icon=":material/model_training:", disabled=busy, key="nt_train_start"):
    if guarded(start, what="Could not start training") is not None:
        st.rerun()
if job is not None and job.status == "stopped" and job.result is not None and not busy:
    if c2.button("Resume this run", icon=":material/resume:",
                 help="Continue from the stopped run's best weights and optimizer state, with the settings above."):
        if guarded(lambda: start(resume_from=job.result, resume_optimizer=job.optimizer),
                   what="Could not resume") is not None:
            st.rerun()


def use_model(key: str) -> None:
    """ "Use this model": the Generate page switches to it (a trained model never switches it by itself)."""
    state.set_active_model(key)
    st.toast(f"The Generate page now uses **{key}**.", icon=":material/check_circle:")


def use_button(container, key: str, button_key: str) -> None:
    if state.active_model() == key:
        container.caption(":material/check_circle: The Generate page uses this model.")
    else:
        container.button("Use this model", key=button_key, on_click=use_model, args=(key,),
                         icon=":material/play_circle:", help="Make the Generate page compose with this model.")


def surprise(bundle) -> str:
    nll = bundle.metrics.val_nll_per_note
    return f" · surprise per note {nll:.2f} on pieces it never saw (lower is better)" if nll else ""


def progress_panel():
    current = st.session_state[state.TRAIN_JOB]
    snap = current.snapshot()
    st.subheader(f"Run: {current.name}")
    if snap.active:
        eta = f" · about {snap.eta_s:.0f} s left" if snap.eta_s else ""
        st.progress(snap.fraction, text=snap.message + eta)
        c1, c2, _ = st.columns([1.3, 1.6, 2])
        if c1.button("Stop (keep the best weights)", icon=":material/stop_circle:", key=state.TRAIN_STOP):
            current.stop()
        if snap.checkpoint is not None:
            epoch = snap.checkpoint_epoch
            c2.download_button(f"Checkpoint after epoch {epoch} (.zip)", snap.checkpoint.to_zip(),
                               file_name=f"{slug(current.name)}-epoch{epoch}.zip", mime="application/zip",
                               icon=":material/download:", key=state.item_key(state.TRAIN_CHECKPOINT, epoch))
    elif snap.status == "failed":
        st.error(f"Training failed: {snap.error}")
    else:
        if not current.collected:  # the model joins the session's models; Generate keeps its own until asked
            current.collect(state.trained_models())
            st.rerun()  # the whole page: the new model appears below and polling stops
        verdict = snap.verdict
        figures = ""
        if verdict is not None and verdict.nll_per_note is not None and verdict.chance_per_note is not None:
            figures = (f" Surprise per note on pieces it never saw: {verdict.nll_per_note:.2f} (lower is better; "
                       f"a model that knows nothing: {verdict.chance_per_note:.2f}).")
        elif snap.result is not None and snap.result.metrics.val_nll_per_note:
            figures = (f" Surprise per note on pieces it never saw: {snap.result.metrics.val_nll_per_note:.2f} "
                       "(lower is better).")
        say = st.success if verdict is None or verdict.learned else st.warning
        say(snap.message + figures, icon=":material/school:" if verdict and verdict.learned else None)
        if snap.model_key is not None and snap.model_key in state.trained_models():
            use_button(st, snap.model_key, state.item_key(state.TRAIN_USE_MODEL, "run"))
    if snap.history or snap.batch_losses:
        st.plotly_chart(training_curves(snap.history, batch_losses=list(snap.batch_losses)),
                        width="stretch", key=state.item_key(state.TRAIN_CHART, "curves"))
    if snap.samples:
        epoch, sample = snap.samples[-1]
        st.caption(f"What the model plays after epoch {epoch}")
        show_score(sample, key=state.item_key(state.TRAIN_SAMPLE, epoch),
                   file_stem=f"{slug(current.name)}-epoch{epoch}")


if job is not None:
    # Polled while it runs; a finished run's panel is part of the page (its buttons redraw everything).
    (st.fragment(run_every=1.0)(progress_panel) if job.active else progress_panel)()

if state.trained_models():
    st.subheader("Models in this session")
    for key, bundle in state.trained_models().items():
        c1, c2, c3 = st.columns([3, 1, 1])
        c1.write(f"**{key}** · {bundle.model.layers} × {bundle.model.arch.upper()} {bundle.model.units}"
                 + surprise(bundle))
        use_button(c2, key, state.item_key(state.TRAIN_USE_MODEL, key))
        c3.download_button("Download .zip", bundle.to_zip(), file_name=f"{slug(key)}.zip", mime="application/zip",
                           key=state.item_key(state.TRAIN_DOWNLOAD, key), icon=":material/download:")
