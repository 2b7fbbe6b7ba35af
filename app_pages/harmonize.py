"""Harmonize: a melody (sung, played, a file, a take) -> a four-part chorale to hear, read and download."""

import streamlit as st

from neurotunes import constants as C
from neurotunes.dataset import scores_from_file
from neurotunes.errors import BadConfig
from neurotunes.harmonize import DEFAULT_TEMPERATURE, VOICES, can_harmonize, harmonize
from neurotunes.transcribe import PRESET_ALIASES, PRESETS, transcribe_audio
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, heavy_job, show_score

st.title("Harmonize")
st.caption("Sing, hum or play a tune: the chorale model keeps it as the soprano and writes alto, tenor and bass "
           "under it, the way Bach harmonized hymn tunes.")

SOURCES = ("Sing or hum", "A recording", "A MIDI, MusicXML or ABC file", "A take", "A transcription")
NOTATION_TYPES = ["mid", "midi", "musicxml", "xml", "mxl", "abc"]


def harmonizing_models() -> list[str]:
    """Shipped and session models that write their voices top to bottom (the frame encoding)."""
    names = [name for name in C.SHIPPED_MODELS if can_harmonize(cache.shipped_bundle(name))]
    return names + [name for name, bundle in state.trained_models().items() if can_harmonize(bundle)]


source = st.radio("Melody from", SOURCES, horizontal=True, key=state.HARMONIZE_SOURCE,
                  help="A single line: where it has chords, its top note is the melody.")
recording = upload = chosen = None
if source == "Sing or hum":
    recording = st.audio_input("Sing or hum a tune (up to a few minutes)", key="hz_mic")
elif source == "A recording":
    recording = st.file_uploader("A recording of the tune", type=list(C.AUDIO_EXTENSIONS), key="hz_audio")
elif source == "A MIDI, MusicXML or ABC file":
    upload = st.file_uploader("The tune as notes", type=NOTATION_TYPES, key="hz_file")
elif source == "A take":
    takes = {t.number: t for t in state.takes()}
    if takes:
        number = st.selectbox("Take", list(takes)[::-1], key=state.HARMONIZE_TAKE,
                              format_func=lambda n: f"Take {n} · {takes[n].model_name}",
                              help="Its top line is the melody.")
        chosen = (f"take {number}", takes.get(number).score if number in takes else None)
    else:
        st.info("No takes yet: make one on the Generate page.", icon=":material/auto_awesome:")
else:
    found = state.transcriptions()
    if found:
        name = st.selectbox("Transcription", list(found), key=state.HARMONIZE_TRANSCRIPTION)
        chosen = (name, found[name].score if name in found else None)
    else:
        st.info("No transcriptions yet: record or upload one on the Transcribe page, or choose **Sing or hum**.",
                icon=":material/graphic_eq:")

models = harmonizing_models()
model = seed = temperature = None
if models:
    c1, c2, c3 = st.columns([2, 1, 1])
    model = c1.selectbox("Model", models, format_func=cache.model_label, key=state.HARMONIZE_MODEL)
    seed = c2.number_input("Seed", 0, C.MAX_SEED, 0, key=state.HARMONIZE_SEED,
                           help="The roll of the dice: another seed, another harmonization of the same tune.")
    temperature = c3.slider("Temperature", 0.5, 1.5, DEFAULT_TEMPERATURE, 0.05, key=state.HARMONIZE_TEMPERATURE,
                            help="Lower keeps to the likeliest chords (plain, safe); higher tries rarer ones "
                                 "(bolder).")
else:
    st.warning("No model here can harmonize: it takes a model that writes its voices top to bottom (trained on "
               "the frame encoding). Train one on the Train page with that encoding.", icon=":material/warning:")


def melody_and_name():
    if recording is not None:
        with heavy_job("Transcribing"):
            config, post = PRESETS[PRESET_ALIASES["melody"]]
            bar = st.progress(0.0, text="Listening for the tune…")
            score = transcribe_audio(recording.getvalue(), config, post, name=recording.name,
                                     on_progress=lambda f: bar.progress(f, "Listening for the tune…"))
            bar.empty()
        return score, recording.name.rsplit(".", 1)[0]
    if upload is not None:
        return scores_from_file(upload.name, upload.getvalue())[0], upload.name.rsplit(".", 1)[0]
    if chosen is not None and chosen[1] is not None:
        return chosen[1], chosen[0]
    raise BadConfig("choose a melody first")


def run() -> None:
    melody, name = melody_and_name()
    with heavy_job("Composing"), st.spinner("Writing alto, tenor and bass…"):
        chorale = harmonize(cache.bundle_for(model), melody, seed=int(seed), temperature=float(temperature))
    st.session_state[state.CHORALE] = (name, chorale)


if st.button("Harmonize", type="primary", icon=":material/queue_music:", disabled=not models):
    guarded(run, what="Could not harmonize")

# (No st.stop() here: a training process started from another page re-imports the page's script as its
# __main__ under AppTest, where st.stop() does not stop.)
made = st.session_state.get(state.CHORALE)
if made is None:
    st.info("Choose a melody and press **Harmonize**.", icon=":material/queue_music:")
else:
    name, chorale = made
    st.subheader(f"{name}, harmonized")
    for message in chorale.messages:
        st.info(message, icon=":material/info:")
    show_score(chorale.score, key="hz_score", file_stem=f"{name}-satb", title=f"{name} (SATB)",
               voices=tuple(zip(VOICES, chorale.voices)))
