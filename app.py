"""NeuroTunes — Streamlit entry point: page config, navigation, shared sidebar."""

import os

import streamlit as st

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter; errors still raise

from neurotunes.ui import state

st.set_page_config(page_title="NeuroTunes", page_icon=":material/music_note:", layout="wide")

pages = [
    st.Page("app_pages/generate.py", title="Generate", icon=":material/auto_awesome:", default=True),
    st.Page("app_pages/transcribe.py", title="Transcribe", icon=":material/graphic_eq:"),
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/dataset:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("app_pages/gallery.py", title="Gallery", icon=":material/library_music:"),
]
nav = st.navigation(pages)

with st.sidebar:
    st.markdown("### :material/music_note: NeuroTunes")
    st.caption("Turn music you have into new music.")
    counters = st.empty()  # filled after the page ran, so it counts what the page just made
    from neurotunes.ui.visitor import visitor_secret

    visitor_secret()  # a first visit's browser gets its secret cookie now, before anything is saved
    with st.expander("Sound", icon=":material/speaker:"):
        from neurotunes.ui.sound import sound_settings

        sound_settings()

try:
    nav.run()
except Exception:  # a bug in a page: one line with an error id for the user, the traceback for the log
    from neurotunes.ui.widgets import show_unexpected

    show_unexpected("This page stopped")
finally:  # also after st.stop() in a page
    from neurotunes.ui.cache import model_label

    counters.caption(
        f"Model: **{model_label(state.active_model())}**  \n"
        f"Transcriptions: {len(state.transcriptions())} · In dataset: {len(state.dataset())} · "
        f"Takes: {len(state.takes())}"
    )
