"""Transcribe: recordings -> Basic Pitch -> check by ear (A/B) and eye -> add to the dataset."""

import streamlit as st

from neurotunes import constants as C
from neurotunes.config import QUANTIZE_GRIDS, PostProcessConfig, TranscribeConfig
from neurotunes.transcribe import FFMPEG_EXTENSIONS, PRESETS
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, heavy_job, show_score

# Widget keys of every setting, so a preset can set them all at once.
K = {
    "onset": "tr_onset", "frame": "tr_frame", "min_ms": "tr_min_ms", "fmin": "tr_fmin", "fmax": "tr_fmax",
    "tempo": "tr_tempo", "melodia": "tr_melodia", "bends": "tr_bends",
    "quantize": "tr_quantize", "mono": "tr_mono", "drop_ms": "tr_drop_ms", "velnorm": "tr_velnorm",
}


def apply_preset() -> None:
    config, post = PRESETS[st.session_state["tr_preset"]]
    st.session_state.update({
        K["onset"]: config.onset_threshold, K["frame"]: config.frame_threshold,
        K["min_ms"]: config.minimum_note_length_ms, K["fmin"]: float(config.minimum_frequency or 0),
        K["fmax"]: float(config.maximum_frequency or 0), K["tempo"]: config.midi_tempo,
        K["melodia"]: config.melodia_trick, K["bends"]: config.multiple_pitch_bends,
        K["quantize"]: post.quantize, K["mono"]: post.monophonic, K["drop_ms"]: post.min_note_ms,
        K["velnorm"]: post.normalize_velocity,
    })


if K["onset"] not in st.session_state:
    st.session_state["tr_preset"] = "Basic Pitch defaults"
    apply_preset()

st.title("Transcribe")
st.caption("Turn recordings into MIDI with Spotify's Basic Pitch, check each one by ear, then add it to your dataset.")

st.selectbox("Preset", list(PRESETS), key="tr_preset", on_change=apply_preset,
             help="Starting points for common material; every setting below stays adjustable.")
with st.expander("Basic Pitch settings", icon=":material/tune:"):
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Onset threshold", 0.05, 0.95, step=0.05, key=K["onset"],
              help="How sure the model must be that a note starts. Lower finds more notes (and more false ones).")
    c2.slider("Frame threshold", 0.05, 0.95, step=0.05, key=K["frame"],
              help="How sure the model must be that a note is still sounding. Lower keeps notes longer.")
    c3.slider("Minimum note length (ms)", 10.0, 500.0, step=1.0, key=K["min_ms"])
    c4.number_input("MIDI tempo (BPM)", C.MIN_TEMPO_BPM, C.MAX_TEMPO_BPM, step=1.0, key=K["tempo"],
                    help="Tempo written into the MIDI file (note times do not change).")
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Minimum frequency (Hz, 0 = none)", 0.0, 8000.0, step=10.0, key=K["fmin"])
    c2.number_input("Maximum frequency (Hz, 0 = none)", 0.0, 8000.0, step=10.0, key=K["fmax"])
    c3.checkbox("Melodia trick", key=K["melodia"], help="Basic Pitch's post-processing that completes melodies.")
    c4.checkbox("Multiple pitch bends", key=K["bends"], help="Allow overlapping notes to carry pitch bends.")
with st.expander("Clean-up for datasets", icon=":material/cleaning_services:"):
    c1, c2, c3, c4 = st.columns(4)
    c1.radio("Quantize", list(QUANTIZE_GRIDS), horizontal=True, key=K["quantize"],
             help="Snap notes to a grid at the tempo estimated from the recording.")
    c2.checkbox("Top melody line only", key=K["mono"])
    c3.slider("Drop notes shorter than (ms)", 0.0, 500.0, step=10.0, key=K["drop_ms"])
    c4.checkbox("Normalize velocity", key=K["velnorm"], help="Scale so the loudest note has velocity 100.")


def current_settings() -> tuple[TranscribeConfig, PostProcessConfig]:
    s = st.session_state
    config = TranscribeConfig(
        onset_threshold=s[K["onset"]], frame_threshold=s[K["frame"]], minimum_note_length_ms=s[K["min_ms"]],
        minimum_frequency=s[K["fmin"]] or None, maximum_frequency=s[K["fmax"]] or None, midi_tempo=s[K["tempo"]],
        melodia_trick=s[K["melodia"]], multiple_pitch_bends=s[K["bends"]],
    )
    post = PostProcessConfig(quantize=s[K["quantize"]], monophonic=s[K["mono"]], min_note_ms=s[K["drop_ms"]],
                             normalize_velocity=s[K["velnorm"]])
    return config, post


def transcribe_one(name: str, data: bytes) -> None:
    """Analyze (cached per recording) and create notes; a failure names the file and keeps the rest."""
    from neurotunes.transcribe import notes_from_analysis

    config, post = current_settings()
    bar = st.progress(0.0, text=f"Transcribing {name}…")

    def run():
        analysis = cache.analyze_cached(data, name, config.max_seconds, guard=lambda: heavy_job("Transcribing"),
                                        on_progress=lambda f: bar.progress(f, text=f"Transcribing {name}…"))
        return notes_from_analysis(analysis, config, post)

    score = guarded(run, what=f"Could not transcribe {name}")
    bar.empty()
    if score is not None:
        state.transcriptions()[name] = state.Transcription(name, data, score, {**config.to_dict(), **post.to_dict()})
        state.dataset().pop(name, None)  # a changed transcription must be accepted again


upload_tab, mic_tab = st.tabs([":material/upload: Upload files", ":material/mic: Record"])
with upload_tab:
    uploads = st.file_uploader(
        "Audio files", type=[*C.AUDIO_EXTENSIONS, *FFMPEG_EXTENSIONS], accept_multiple_files=True,
        help=f"mp3, wav, ogg or flac (others need ffmpeg), up to {C.MAX_UPLOAD_MB} MB and "
             f"{C.MAX_AUDIO_SECONDS / 60:g} minutes each",
    )
    if st.button("Transcribe", type="primary", icon=":material/graphic_eq:", disabled=not uploads):
        for upload in uploads:
            transcribe_one(upload.name, upload.getvalue())
with mic_tab:
    recording = st.audio_input("Hum, sing or play a melody", key="tr_mic")
    if st.button("Transcribe recording", icon=":material/graphic_eq:", disabled=recording is None):
        takes = sum(1 for n in state.transcriptions() if n.startswith("recording"))
        transcribe_one(f"recording-{takes + 1}.wav", recording.getvalue())

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
    a, b = st.columns(2)
    a.caption("A · original recording")
    a.audio(tr.audio)
    b.caption("B · transcription played by FluidSynth (below, with downloads)")
    show_score(tr.score, key=f"tr_{name}", file_stem=f"{name.rsplit('.', 1)[0]}-transcription")
    in_dataset = name in state.dataset()
    c1, c2, c3, _ = st.columns([1.2, 1.4, 1, 2])
    if c1.button("In dataset ✓" if in_dataset else "Add to my dataset", key=f"add_{name}", disabled=in_dataset,
                 icon=":material/playlist_add:"):
        state.dataset()[name] = tr.score
        st.rerun()
    if c2.button("Re-run with current settings", key=f"rerun_{name}", icon=":material/refresh:"):
        transcribe_one(name, tr.audio)
        st.rerun()
    if c3.button("Remove", key=f"rm_{name}", icon=":material/delete:"):
        del results[name]
        state.dataset().pop(name, None)
        st.rerun()
