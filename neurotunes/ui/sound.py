"""The sidebar's sound settings: which soundfont renders every piece, and reverb."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from .. import constants as C
from ..render import find_soundfonts, install_soundfont
from . import state
from .widgets import guarded


@st.cache_data(show_spinner=False, ttl=600)
def installed_soundfonts() -> list[str]:
    return [str(p) for p in find_soundfonts()]


def sound_settings() -> None:
    settings = state.sound()
    uploaded = st.session_state.setdefault("nt_uploaded_soundfonts", {})  # label -> path
    options = installed_soundfonts() + list(uploaded.values())
    labels = {path: Path(path).name for path in installed_soundfonts()}
    labels.update({path: f"{label} (uploaded)" for label, path in uploaded.items()})
    current = settings.soundfont if settings.soundfont in options else (options[0] if options else None)
    if options:
        settings.soundfont = st.selectbox("Soundfont", options, index=options.index(current),
                                          format_func=lambda p: labels.get(p, p))
    c1, c2 = st.columns(2)
    settings.reverb = c1.toggle("Reverb", value=settings.reverb)
    settings.chorus = c2.toggle("Chorus", value=settings.chorus)
    upload = st.file_uploader("Your own .sf2 / .sf3", type=["sf2", "sf3"], key=state.SOUNDFONT_UPLOAD)
    if upload is not None and upload.name not in uploaded:
        path = guarded(lambda: install_soundfont(upload.getvalue(), upload.name, C.data_dir() / "soundfonts"),
                       what=f"Could not use {upload.name}")
        if path is not None:
            uploaded[upload.name] = str(path)
            settings.soundfont = str(path)
            st.rerun()
