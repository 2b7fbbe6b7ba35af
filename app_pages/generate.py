"""Generate: every sampling control -> takes you can play, compare, continue, explain and download."""

from dataclasses import replace

import streamlit as st

from neurotunes import constants as C
from neurotunes import gallery, primers
from neurotunes.config import GenerateConfig
from neurotunes.generate import Generation, compose
from neurotunes.plotting import choice_bars
from neurotunes.share import take_from_link
from neurotunes.ui import cache, state
from neurotunes.ui.visitor import visitor_secret
from neurotunes.ui.widgets import guarded, heavy_job, setting_widgets, share_link, show_score, take_warnings

st.title("Generate")
st.caption("Pick a model and a few settings, press Generate, and listen. Every take is kept below.")

models = [*C.SHIPPED_MODELS, *state.trained_models()]
current = state.active_model()
choice = st.selectbox("Model", models, index=models.index(current), format_func=cache.model_label)
if choice != current:
    state.set_active_model(choice)

key_normalized = guarded(lambda: cache.current_bundle().key_normalized, what="Could not load the model") or False
with st.form(state.GENERATE_FORM, border=True):
    values = setting_widgets(GenerateConfig, "main")
    count = st.columns(3)[0].number_input("Takes at once", 1, C.MAX_VARIATIONS, 1, help="Seeds S, S+1, …",
                                          key=state.TAKES_AT_ONCE)
    with st.expander("Sampling", icon=":material/casino:"):
        values |= setting_widgets(GenerateConfig, "sampling", columns=4)
    with st.expander("Musical constraints", icon=":material/piano:"):
        values |= setting_widgets(GenerateConfig, "constraints", extra_help={
            "transpose": "This model is one (it learned every piece moved there): +2 gives D major / B minor."
        } if key_normalized else None)
    with st.expander("Start from (primer)", icon=":material/play_circle:"):
        transcriptions = state.transcriptions()
        primer_source = st.radio("Primer", primers.SOURCES, horizontal=True)
        primer_file = st.file_uploader("MIDI primer", type=list(C.MIDI_EXTENSIONS))
        primer_name = st.selectbox("Transcription", list(transcriptions) or ["(none yet)"])
    submitted = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:")


def chosen_primer():
    chosen = transcriptions.get(primer_name)
    built = st.session_state.get(state.BUILT_DATASET)
    return primers.choose(primer_source, seed=values["seed"], transcription=chosen.score if chosen else None,
                          midi=(primer_file.name, primer_file.getvalue()) if primer_file else None,
                          dataset=list(built.train) if built is not None else None)


def keep_take(made: Generation, *, parent: int | None = None, primed: bool = False) -> None:
    state.keep_take(made, model_name=cache.current_bundle().name, model_key=state.active_model(), parent=parent,
                    primed=primed)


def make_takes(config: GenerateConfig, primer, parent: int | None = None, count: int = 1) -> None:
    with heavy_job("Composing"):
        bar = st.progress(0.0, text="Composing…")
        made = compose(cache.current_bundle(), config, count=count, primer=primer, traced=True, on_progress=lambda
                       take, n, total: bar.progress(min(n / total, 1.0), text=f"Composing take {take}…"))
        bar.empty()
    for generation in made:
        keep_take(generation, parent=parent, primed=primer is not None)


def open_shared_link(params: dict[str, str]) -> None:
    """Regenerate the take a share link describes (validated: a tampered link is a message)."""
    model, config = take_from_link(params, bundle_for=cache.shipped_bundle)
    state.set_active_model(model)
    with st.spinner("Composing the shared take…"):
        keep_take(cache.shared_take(model, config, guard=lambda: heavy_job("Composing")))


link = st.query_params.to_dict()
if "model" in link and st.session_state.get(state.SHARE_APPLIED) != sorted(link.items()):
    st.session_state[state.SHARE_APPLIED] = sorted(link.items())  # once per link, not on every rerun
    guarded(lambda: open_shared_link(link), what="Could not open the shared link")

if submitted:
    guarded(lambda: make_takes(GenerateConfig(**values), chosen_primer(), count=int(count)), what="Generation failed")

takes = state.takes()
if not takes:
    st.info("No takes yet: press **Generate** to hear the model.", icon=":material/music_note:")
    st.stop()

take, numbers = state.take_shown(), [t.number for t in takes]
st.divider()
st.radio("Takes", numbers[::-1], horizontal=True, format_func=lambda n: f"Take {n}", key=state.TAKE_SHOWN)
cfg = take.config

st.subheader(f"Take {take.number}" + (f" (continues take {take.parent})" if take.parent else ""))
st.caption(f"{take.model_name} · {cfg.summary()}")
take_warnings(take.score)
show_score(take.score, key=state.take_key("take", take.number), playback_controls=False,
           title=f"Take {take.number} · {take.model_name} · seed {cfg.seed}",
           file_stem=f"neurotunes-{take.model_name}-take{take.number}-seed{cfg.seed}-temp{cfg.temperature}",
           primer_notes=int(take.score.metadata.get("primer_notes", 0)))

share_link(take)

with st.form(state.take_key("save", take.number), border=False):
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    title = c1.text_input("Title", f"Take {take.number}", max_chars=100)
    if c2.form_submit_button("Save to gallery", icon=":material/library_add:"):
        def save():
            audio = cache.render_current(take.score.to_json(), "mp3")
            track_id = gallery.save_track(title, take.score, cache.midi_cached(take.score.to_json()), audio,
                                          model=take.model_name, owner=visitor_secret())
            st.success(f"Saved as track {track_id}; it is on the Gallery page.")

        guarded(save, what="Could not save")

c1, c2, c3, _ = st.columns([1.2, 1.4, 1, 2])
if c1.button("Continue this take", icon=":material/playlist_play:"):
    continuation = replace(GenerateConfig(**values), seed=cfg.seed + C.CONTINUATION_SEED_OFFSET)
    guarded(lambda: make_takes(continuation, take.score, parent=take.number), what="Continuing failed")
    st.rerun()
last = takes[-1]
if c2.button("Undo last continuation", icon=":material/undo:", disabled=last.parent is None):
    takes.remove(last)
    st.session_state[state.TAKE_TO_SHOW] = last.parent
    st.rerun()
if c3.button("Delete take", icon=":material/delete:"):
    takes.remove(take)
    st.rerun()

if take.trace:
    with st.expander("Why this note? The model's top choices at each step", icon=":material/insights:"):
        step = st.slider("Step", 1, len(take.trace), 1, key=state.take_key("trace_step", take.number))
        t = take.trace[step - 1]
        st.plotly_chart(choice_bars(t.top_tokens, t.top_probs, chosen=t.token, title=f"Step {step}"),
                        width="stretch", key=state.take_key(f"trace{step}", take.number))

if len(takes) > 1:
    with st.expander(f"Compare with another take ({len(takes) - 1} more)", icon=":material/compare:"):
        other_number = st.selectbox("Other take", [n for n in numbers if n != take.number],
                                    format_func=lambda n: f"Take {n}")
        other = next(t for t in takes if t.number == other_number)
        show_score(other.score, key=state.take_key("compare", other.number), playback_controls=False,
                   file_stem=f"neurotunes-{other.model_name}-take{other.number}-seed{other.config.seed}")
