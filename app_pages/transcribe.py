"""Transcribe: upload audio -> Basic Pitch -> piano roll, A/B listening, MIDI download."""

import streamlit as st

from neurotunes import constants as C
from neurotunes.config import TranscribeConfig
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, show_score

st.title("Transcribe")
st.caption("Turn a recording into MIDI with Spotify's Basic Pitch, check it by ear, then add it to your dataset.")

uploads = st.file_uploader(
    "Audio files", type=list(C.AUDIO_EXTENSIONS), accept_multiple_files=True,
    help=f"mp3, wav, ogg or flac, up to {C.MAX_UPLOAD_MB} MB and {C.MAX_AUDIO_SECONDS // 60} minutes each",
)

with st.expander("Basic Pitch settings", icon=":material/tune:"):
    c1, c2, c3 = st.columns(3)
    onset = c1.slider("Onset threshold", 0.05, 0.95, C.BP_ONSET_THRESHOLD, 0.05,
                      help="Lower finds more note starts (and more false ones).")
    frame = c2.slider("Frame threshold", 0.05, 0.95, C.BP_FRAME_THRESHOLD, 0.05,
                      help="Lower keeps notes sounding longer and finds quieter notes.")
    min_ms = c3.slider("Minimum note length (ms)", 10.0, 500.0, C.BP_MIN_NOTE_MS, 5.0)

if st.button("Transcribe", type="primary", icon=":material/graphic_eq:", disabled=not uploads):
    from neurotunes.transcribe import transcribe_audio

    config = TranscribeConfig(onset_threshold=onset, frame_threshold=frame, minimum_note_length_ms=min_ms)
    cache.basic_pitch_model()
    for upload in uploads:
        bar = st.progress(0.0, text=f"Transcribing {upload.name}…")
        data = upload.getvalue()
        score = guarded(
            lambda: transcribe_audio(data, config, name=upload.name,
                                     on_progress=lambda f: bar.progress(f, text=f"Transcribing {upload.name}…")),
            what=f"Could not transcribe {upload.name}",
        )
        bar.empty()
        if score is not None:
            state.transcriptions()[upload.name] = state.Transcription(upload.name, data, score, config.to_dict())

results = state.transcriptions()
if not results:
    st.info("Upload a recording and press **Transcribe**.", icon=":material/upload:")
for name, tr in list(results.items()):
    st.divider()
    st.subheader(name)
    st.caption("Original recording")
    st.audio(tr.audio)
    st.caption("Transcription, played by FluidSynth")
    show_score(tr.score, key=f"tr_{name}", file_stem=f"{name.rsplit('.', 1)[0]}-transcription")
    in_dataset = name in state.dataset()
    c1, c2, _ = st.columns([1, 1, 3])
    if c1.button("In dataset ✓" if in_dataset else "Add to my dataset", key=f"add_{name}", disabled=in_dataset,
                 icon=":material/playlist_add:"):
        state.dataset()[name] = tr.score
        st.rerun()
    if c2.button("Remove", key=f"rm_{name}", icon=":material/delete:"):
        del results[name]
        st.rerun()
