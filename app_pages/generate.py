"""Generate: sliders -> new notes -> FluidSynth audio beside a piano roll."""

import streamlit as st

from neurotunes.config import GenerateConfig
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, show_score

st.title("Generate")
st.caption("Pick a temperature and a length, press Generate, and listen.")

from neurotunes.constants import SHIPPED_MODELS

models = [*SHIPPED_MODELS, *state.trained_models()]
current = state.active_model()
choice = st.selectbox("Model", models, index=models.index(current), format_func=cache.model_label)
if choice != current:
    state.set_active_model(choice)

defaults = GenerateConfig()
with st.form("generate_form", border=True):
    c1, c2, c3 = st.columns(3)
    temperature = c1.slider(
        "Temperature", 0.1, 2.0, 1.0, 0.05, help="Lower: safer, more repetitive. Higher: more adventurous."
    )
    length = c2.slider("Length (notes)", 20, 1000, defaults.length, 10)
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, 1, help="Same model, settings and seed give the same music.")
    c4, c5, c6 = st.columns(3)
    top_k = c4.slider("Top-k (0 = off)", 0, 100, 0, 1)
    top_p = c5.slider("Top-p (1 = off)", 0.05, 1.0, 1.0, 0.05)
    bpm = c6.slider("Tempo (BPM)", 40, 220, int(defaults.tempo_bpm), 1)
    submitted = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:")

if submitted:
    def run():
        from neurotunes.generate import generate

        bundle = cache.current_bundle()
        config = GenerateConfig(
            length=int(length), temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
            seed=int(seed), tempo_bpm=float(bpm),
        )
        with st.spinner("Composing…"):
            score = generate(bundle, config)
        takes = state.takes()
        takes.append(state.Take(len(takes) + 1, score, bundle.name, config.to_dict()))

    guarded(run, what="Generation failed")

takes = state.takes()
if not takes:
    st.info("No takes yet: press **Generate** to hear the model.", icon=":material/music_note:")
else:
    take = takes[-1]
    s = take.settings
    st.subheader(f"Take {take.number}")
    st.caption(f"{take.model_name} · temperature {s['temperature']} · seed {s['seed']} · {s['length']} notes")
    show_score(take.score, key=f"take{take.number}", file_stem=f"neurotunes-take{take.number}-seed{s['seed']}",
               primer_notes=int(take.score.metadata.get("primer_notes", 0)))
    if len(takes) > 1:
        with st.expander(f"Earlier takes ({len(takes) - 1})"):
            for old in reversed(takes[:-1]):
                st.write(f"Take {old.number}: temperature {old.settings['temperature']}, seed {old.settings['seed']}, "
                         f"{len(old.score)} notes")
