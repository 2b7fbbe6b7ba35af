"""NeuroTunes — Streamlit entry point: page config, navigation, shared sidebar."""

import os

import streamlit as st

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter; errors still raise

from neurotunes.ui import state
from neurotunes.ui.cache import model_label
from neurotunes.ui.phone import phone_layout

st.set_page_config(page_title="NeuroTunes", page_icon=":material/music_note:", layout="wide")

pages = [
    st.Page("app_pages/generate.py", title="Generate", icon=":material/auto_awesome:", default=True),
    st.Page("app_pages/harmonize.py", title="Harmonize", icon=":material/queue_music:"),
    st.Page("app_pages/transcribe.py", title="Transcribe", icon=":material/graphic_eq:"),
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/dataset:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("app_pages/gallery.py", title="Gallery", icon=":material/library_music:"),
]
nav = st.navigation(pages)
phone_layout()  # at phone width: the menu closes after choosing a page; a form's Generate button stays in reach

with st.sidebar:
    st.markdown("### :material/music_note: NeuroTunes")
    st.caption("Turn music you have into new music.")
    counters = st.empty()  # filled after the page ran, so it counts what the page just made
    from neurotunes.ui import persist
    from neurotunes.ui.visitor import visitor_secret

    # A first visit's browser gets its secret cookie now, before anything is saved; a refresh or a new tab of
    # the same browser gets back what was kept for it.
    persist.begin(visitor_secret(), page=nav.url_path)
    kept_box = persist.sidebar()
    with st.expander("Sound", icon=":material/speaker:"):
        from neurotunes.ui.sound import sound_settings

        sound_settings()

def show_counters() -> None:
    counters.caption(
        f"Model: **{model_label(state.active_model())}**  \n"
        f"Transcriptions: {len(state.transcriptions())} · In dataset: {len(state.dataset())} · "
        f"Takes: {len(state.takes())}"
    )


show_counters()  # before the page: a page that stops early (Generate before its first take) still has them
try:
    nav.run()
except Exception as exc:  # a bug in a page: one line with an error id for the user, the traceback for the log
    if persist.recover(exc):  # a kept setting the page's widget rejects: back to the defaults, and again
        st.rerun()
    from neurotunes.ui.widgets import show_unexpected

    show_unexpected("This page stopped")
finally:  # also after st.stop() in a page (after which every element drawn raises again: save first)
    persist.save()  # keeps what changed on the server (see neurotunes/ui/persist.py)
    show_counters()  # again: counts what the page just made
    persist.show(kept_box)  # its size now, and what is over the limit
