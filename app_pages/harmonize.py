"""Harmonize: a melody (sung, played, a file, a take) -> a four-part chorale to hear, read, download and share."""

from dataclasses import replace
from urllib.parse import urlencode

import streamlit as st

from neurotunes import constants as C
from neurotunes.dataset import scores_from_file
from neurotunes.errors import BadConfig
from neurotunes.harmonize import DEFAULT_TEMPERATURE, VOICES, can_harmonize, harmonize
from neurotunes.score import pitch_name
from neurotunes.share import (GridMelody, HarmonizationLink, harmonization_from_link, harmonization_params,
                              is_harmonization_link, parse_harmonization_params)
from neurotunes.transcribe import PRESET_ALIASES, PRESETS, transcribe_audio
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, heavy_job, show_score

st.title("Harmonize")
st.caption("Sing, hum or play a tune: the chorale model keeps it as the soprano and writes alto, tenor and bass "
           "under it, the way Bach harmonized hymn tunes.")

top = st.container()  # a share link's banner: on top, above the form

SOURCES = ("Sing or hum", "A recording", "A MIDI, MusicXML or ABC file", "A take", "A transcription")
SHARED_SOURCE, SHARED_NAME = "The shared melody", "the shared melody"  # a source once a share link brought one
NOTATION_TYPES = ["mid", "midi", "musicxml", "xml", "mxl", "abc"]
TEMPERATURES = (0.5, 1.5)  # the slider's range
LINK_APPLIED, SHARED, SHARED_MELODY = state.HARMONIZE_LINK_APPLIED, state.HARMONIZE_SHARED, state.HARMONIZE_SHARED_MELODY
#: In a chorale's metadata (so they travel with it: a refresh, its MIDI): its share link's query parameters, or
#: why it has none.
LINK_META, NO_LINK_META = "share_link", "no_share_link"


def harmonizing_models() -> list[str]:
    """Shipped and session models that write their voices top to bottom (the frame encoding)."""
    names = [name for name in C.SHIPPED_MODELS
             if name in C.HARMONIZING_MODELS and can_harmonize(cache.shipped_bundle(name))]
    return names + [name for name, bundle in state.trained_models().items() if can_harmonize(bundle)]


def keep_chorale(name: str, chorale, recipe: HarmonizationLink) -> None:
    """Show ``chorale`` from now on, its share link (what ``recipe`` makes it from) in its metadata."""
    try:
        if recipe.model not in C.SHIPPED_MODELS:
            raise BadConfig("a harmonization by a model trained in this session cannot be shared as a link; "
                            "download the MIDI instead")
        meta = {LINK_META: harmonization_params(recipe.model, recipe.model_hash, recipe.melody, recipe.seed,
                                                recipe.temperature, recipe.tempo_bpm, key=recipe.key)}
    except BadConfig as exc:
        meta = {NO_LINK_META: str(exc)}
    st.session_state[state.CHORALE] = (name, replace(chorale, score=chorale.score.with_metadata(**meta)))


def open_link(params: dict[str, str]) -> None:
    """Harmonize the melody a share link carries (validated: a tampered link is a message) and set the model, seed
    and temperature to the link's (before their widgets are drawn)."""
    link = harmonization_from_link(params, bundle_for=cache.shipped_bundle)
    melody = link.melody_score()
    with heavy_job("Composing"), st.spinner("Harmonizing the shared melody…"):
        chorale = harmonize(cache.shipped_bundle(link.model), melody, seed=link.seed, temperature=link.temperature)
    st.session_state[SHARED_MELODY] = melody
    st.session_state[state.HARMONIZE_SOURCE] = SHARED_SOURCE
    st.session_state[state.HARMONIZE_MODEL] = link.model
    st.session_state[state.HARMONIZE_SEED] = link.seed
    if TEMPERATURES[0] <= link.temperature <= TEMPERATURES[1]:
        st.session_state[state.HARMONIZE_TEMPERATURE] = link.temperature
    keep_chorale(SHARED_NAME, chorale, link)
    st.session_state[SHARED] = link


def end_link() -> None:
    """Make your own (and any new harmonization): the banner goes and the address bar forgets the link; the shared
    melody stays one of the sources."""
    st.session_state.pop(SHARED, None)
    if is_harmonization_link(st.query_params.to_dict()):
        st.query_params.clear()


link = st.query_params.to_dict()
if is_harmonization_link(link) and st.session_state.get(LINK_APPLIED) != sorted(link.items()):
    st.session_state[LINK_APPLIED] = sorted(link.items())  # once per link, not on every rerun
    with top:
        guarded(lambda: open_link(link), what="Could not open the shared link")

shared_melody = st.session_state.get(SHARED_MELODY)
sources = SOURCES + ((SHARED_SOURCE,) if shared_melody is not None else ())
if st.session_state.get(state.HARMONIZE_SOURCE, SOURCES[0]) not in sources:  # a kept choice of a melody now gone
    st.session_state[state.HARMONIZE_SOURCE] = SOURCES[0]
source = st.radio("Melody from", sources, horizontal=True, key=state.HARMONIZE_SOURCE,
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
elif source == SHARED_SOURCE:
    chosen = (SHARED_NAME, shared_melody)
    names = " ".join(pitch_name(n.pitch) for n in shared_melody.notes[:16])
    st.caption(f"The melody a share link brought: {len(shared_melody.notes)} notes, {shared_melody.duration:.0f} s "
               f"({names}{' …' if len(shared_melody.notes) > 16 else ''}).")
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
    temperature = c3.slider("Temperature", *TEMPERATURES, DEFAULT_TEMPERATURE, 0.05, key=state.HARMONIZE_TEMPERATURE,
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
    bundle = cache.bundle_for(model)
    with heavy_job("Composing"), st.spinner("Writing alto, tenor and bass…"):
        chorale = harmonize(bundle, melody, seed=int(seed), temperature=float(temperature))
    # The recipe (what a share link says): the melody as the harmonizer sang it, which harmonizes the same way.
    recipe = HarmonizationLink(model, bundle.hash, GridMelody.of_melody(melody, bundle.encoding.steps_per_quarter),
                               int(seed), float(temperature), chorale.score.tempo_bpm, chorale.score.key)
    keep_chorale(name, chorale, recipe)
    end_link()  # making your own ends a shared link's banner


def share_link(chorale) -> None:
    """The chorale's share link, as its metadata holds it (a chorale by a model trained here, or of too long a
    melody, has none: the caption says why)."""
    params, refused = chorale.score.metadata.get(LINK_META), chorale.score.metadata.get(NO_LINK_META)
    try:
        parse_harmonization_params(params)  # (what was kept on the server is read back like any link)
    except (BadConfig, AttributeError, TypeError):
        if isinstance(refused, str):
            st.caption(f"No share link: {refused}.")
        return
    base = (st.context.url or "").split("?", 1)[0]
    st.caption("Share link — opening it harmonizes this melody again, note for note:")
    st.code(f"{base}?{urlencode(params)}", language=None)


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
    with st.container():
        share_link(chorale)

shared = st.session_state.get(SHARED)
if shared is not None and made is not None:
    with top, st.container(border=True):
        words, action = st.columns([3, 1], vertical_alignment="center")
        words.markdown(f":material/share: **Shared with you:** a melody of {len(shared.melody.notes)} notes "
                       f"harmonized by {cache.model_label(shared.model)}, seed {shared.seed}, "
                       f"temperature {shared.temperature:g}.")
        note = ("Press play below to hear it. The melody is yours to harmonize again: change the seed or the "
                "temperature and press Harmonize.")
        if not TEMPERATURES[0] <= shared.temperature <= TEMPERATURES[1]:
            note += (f" (The temperature slider goes {TEMPERATURES[0]:g}-{TEMPERATURES[1]:g}: it cannot show the "
                     "link's.)")
        words.caption(note)
        action.button("Make your own", type="primary", icon=":material/edit:", on_click=end_link,
                      help="Close the shared link: the melody, model, seed and temperature stay for you to change.")
