"""Transcribe: recordings -> Basic Pitch -> check by ear (A/B) and eye -> add to the dataset."""

import streamlit as st

from neurotunes import constants as C
from neurotunes.config import QUANTIZE_GRIDS
from neurotunes.plotting import piano_roll
from neurotunes.transcribe import FFMPEG_EXTENSIONS, PRESETS
from neurotunes.ui import cache, state
from neurotunes.ui.transcribe_form import (ab_player, apply_preset, changed_settings, start_with_defaults,
                                           transcribe_into_session, widget_settings)
from neurotunes.ui.widgets import guarded, sheet_music, sheet_music_toggle, slug

K = state.TRANSCRIBE_SETTINGS  # each setting's widget key, by config field
start_with_defaults()

st.title("Transcribe")
st.caption("Turn recordings into MIDI with Spotify's Basic Pitch, check each one by ear, then add it to your dataset.")

st.selectbox("Preset", list(PRESETS), key=state.TRANSCRIBE_PRESET, on_change=apply_preset,
             help="Starting points for common material; every setting below stays adjustable.")
with st.expander("Basic Pitch settings", icon=":material/tune:"):
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Onset threshold", 0.05, 0.95, step=0.05, key=K["onset_threshold"],
              help="How sure the model must be that a note starts. Lower finds more notes (and more false ones).")
    c2.slider("Frame threshold", 0.05, 0.95, step=0.05, key=K["frame_threshold"],
              help="How sure the model must be that a note is still sounding. Lower keeps notes longer.")
    c3.slider("Minimum note length (ms)", 10.0, 500.0, step=1.0, key=K["minimum_note_length_ms"])
    c4.number_input("MIDI tempo (BPM)", C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM, step=1.0, key=K["midi_tempo"],
                    help="Tempo written into the MIDI file (note times do not change).")
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Minimum frequency (Hz, 0 = none)", 0.0, 8000.0, step=10.0, key=K["minimum_frequency"])
    c2.number_input("Maximum frequency (Hz, 0 = none)", 0.0, 8000.0, step=10.0, key=K["maximum_frequency"])
    c3.checkbox("Melodia trick", key=K["melodia_trick"],
                help="Basic Pitch's post-processing that completes melodies.")
    c4.checkbox("Multiple pitch bends", key=K["multiple_pitch_bends"],
                help="Allow overlapping notes to carry pitch bends.")
with st.expander("Clean-up for datasets", icon=":material/cleaning_services:"):
    c1, c2, c3, c4 = st.columns(4)
    c1.radio("Quantize", list(QUANTIZE_GRIDS), horizontal=True, key=K["quantize"],
             help="Snap notes to a grid at the tempo estimated from the recording.")
    c2.checkbox("Top melody line only", key=K["monophonic"])
    c3.slider("Drop notes shorter than (ms)", 0.0, 500.0, step=10.0, key=K["min_note_ms"])
    c4.checkbox("Normalize velocity", key=K["normalize_velocity"],
                help="Scale so the loudest note has velocity 100.")


upload_tab, mic_tab = st.tabs([":material/upload: Upload files", ":material/mic: Record"])
with upload_tab:
    uploads = st.file_uploader(
        "Audio files", type=[*C.AUDIO_EXTENSIONS, *FFMPEG_EXTENSIONS], accept_multiple_files=True,
        help=f"mp3, wav, ogg or flac (others need ffmpeg), up to {C.MAX_UPLOAD_MB} MB and "
             f"{C.MAX_AUDIO_SECONDS / 60:g} minutes each",
    )
    if st.button("Transcribe", type="primary", icon=":material/graphic_eq:", disabled=not uploads):
        for upload in uploads:
            transcribe_into_session(upload.name, upload.getvalue())
with mic_tab:
    recording = st.audio_input("Hum, sing or play a melody", key=state.TRANSCRIBE_MIC)
    if st.button("Transcribe recording", icon=":material/graphic_eq:", disabled=recording is None):
        takes = sum(1 for n in state.transcriptions() if n.startswith("recording"))
        transcribe_into_session(f"recording-{takes + 1}.wav", recording.getvalue())

results = state.transcriptions()
if not results:
    st.info("Upload a recording (or record one) and press **Transcribe**.", icon=":material/upload:")
for name, tr in list(results.items()):
    st.divider()
    st.subheader(name)
    meta = tr.score.metadata
    tempo = meta.get("estimated_tempo_bpm")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Notes", len(tr.score))
    c2.metric("Pitch range", tr.score.summary()["pitch_range"])
    c3.metric("Duration", f"{meta.get('audio_seconds', tr.score.duration):.1f} s")
    c4.metric("Estimated tempo", f"{tempo:.0f} BPM" if tempo else "—")
    for warning in meta.get("warnings", []):  # truncated file, noise: transcribed, but say so
        st.warning(warning, icon=":material/warning:")
    # One player for the check by ear: the switch plays A (the recording) or B (the transcription) from the same
    # moment, under the transcription's notes.
    score_json = tr.score.to_json()
    mp3 = guarded(lambda: cache.render_current(score_json, "mp3"), what="Rendering the transcription failed")
    player, side = st.columns([3, 2], vertical_alignment="top")
    with player:
        ab_tab, inspect_tab = st.tabs(["Compare A/B", "Zoom and inspect"])
        with ab_tab:
            ab_player(tr, mp3)
        with inspect_tab:
            st.plotly_chart(piano_roll(tr.score), width="stretch",
                            key=state.item_key(state.TRANSCRIPTION_SCORE, f"{name}_roll"))
    stem = slug(f"{name.rsplit('.', 1)[0]}-transcription")
    with side:
        st.markdown("**A** · the recording  \n**B** · the transcription, played by FluidSynth")
        st.caption("Switch while it plays to hear where they differ; the roll shows the transcribed notes.")
        c1, c2 = st.columns(2)
        c1.download_button("MIDI", cache.midi_cached(score_json), file_name=f"{stem}.mid", mime="audio/midi",
                           key=state.item_key(state.TRANSCRIPTION_SCORE, f"{name}_mid"), icon=":material/download:",
                           width="stretch")
        if mp3 is not None:
            c2.download_button("MP3", mp3, file_name=f"{stem}.mp3", mime="audio/mpeg", width="stretch",
                               key=state.item_key(state.TRANSCRIPTION_SCORE, f"{name}_mp3"),
                               icon=":material/download:")
        show_sheet = sheet_music_toggle(state.item_key(state.TRANSCRIPTION_SCORE, name))
    if show_sheet:  # check by eye: the transcription engraved
        sheet_music(score_json, name, stem, state.item_key(state.TRANSCRIPTION_SCORE, name))
    in_dataset = name in state.dataset()
    c1, c2, c3, _ = st.columns([1.2, 1.4, 1, 2])
    if c1.button("In dataset ✓" if in_dataset else "Add to my dataset",
                 key=state.item_key(state.TRANSCRIPTION_ADD, name), disabled=in_dataset,
                 icon=":material/playlist_add:"):
        state.dataset()[name] = tr.score
        st.rerun()
    changed = changed_settings(tr.settings, widget_settings())
    if c2.button("Re-run with current settings", key=state.item_key(state.TRANSCRIPTION_RERUN, name),
                 icon=":material/refresh:",
                 help="Transcribes this recording again with the settings shown above (the analysis is kept, "
                      "so only the note stage runs again)."):
        transcribe_into_session(name, tr.audio)
        st.rerun()
    if c3.button("Remove", key=state.item_key(state.TRANSCRIPTION_REMOVE, name), icon=":material/delete:"):
        del results[name]
        state.dataset().pop(name, None)
        st.rerun()
    st.caption("Re-run uses the settings shown above: " + "; ".join(changed) + "." if changed else
               "Made with the settings shown above: a re-run gives the same notes.")
