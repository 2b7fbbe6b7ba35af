"""Generate: every sampling control -> takes you can play, compare, continue, explain and download."""

import streamlit as st

from neurotunes import constants as C
from neurotunes.config import SCALES, GenerateConfig
from neurotunes.constants import SHIPPED_MODELS
from neurotunes.score import PITCH_CLASS_NAMES as KEYS
from neurotunes.score import pitch_name
from neurotunes.ui import cache, state
from neurotunes.ui.widgets import guarded, heavy_job, instrument_select, show_score

st.title("Generate")
st.caption("Pick a model and a few settings, press Generate, and listen. Every take is kept below.")

models = [*SHIPPED_MODELS, *state.trained_models()]
current = state.active_model()
choice = st.selectbox("Model", models, index=models.index(current), format_func=cache.model_label)
if choice != current:
    state.set_active_model(choice)

defaults = GenerateConfig()
PIANO = (21, 108)  # the pitch slider's ends: the range every shipped model's vocabulary covers anyway
key_normalized = guarded(lambda: cache.current_bundle().key_normalized, what="Could not load the model") or False
with st.form("generate_form", border=True):
    c1, c2, c3 = st.columns(3)
    temperature = c1.slider("Temperature", 0.1, 2.0, 1.0, 0.05,
                            help="Lower: safer, more repetitive. Higher: more adventurous.")
    length = c2.slider("Length (notes)", 10, 1000, defaults.length, 10)
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, 1, help="Same model, settings and seed give the same music.")
    c4, c5, c6 = st.columns(3)
    bpm = c4.slider("Tempo (BPM)", 40, 220, int(defaults.tempo_bpm), 1)
    program = instrument_select(c5, "Instrument")
    variations = c6.number_input("Takes at once", 1, C.MAX_VARIATIONS, 1, help="Seeds S, S+1, …")
    with st.expander("Sampling", icon=":material/casino:"):
        c1, c2, c3, c4 = st.columns(4)
        top_k = c1.slider("Top-k (0 = off)", 0, 100, 0, 1)
        top_p = c2.slider("Top-p (1 = off)", 0.05, 1.0, 1.0, 0.05)
        penalty = c3.slider("Repetition penalty", 1.0, 5.0, 1.0, 0.1,
                            help="Make pitches heard in the last few notes less likely.")
        window = c4.slider("…over the last N notes", 1, 32, defaults.no_repeat_window)
        beam = st.slider("Beam search width (1 = sample)", 1, 8, 1,
                         help="Above 1: the most likely continuation instead of a random one (slower, calmer).")
        seconds = st.slider("Stop after (seconds, 0 = by notes only)", 0, 600, 0, 5)
    with st.expander("Musical constraints", icon=":material/piano:"):
        c1, c2, c3 = st.columns(3)
        scale = c1.selectbox("Scale", list(SCALES))
        key = c2.selectbox("Key", range(12), format_func=lambda k: KEYS[k])
        max_chord = c3.slider("Most notes at once (0 = any)", 0, 8, 0)
        transpose = st.slider("Transpose (semitones)", -12, 12, 0, help=(
            "Move the result up or down. " + ("This model writes in C major / A minor (it learned every piece "
                                              "moved there): +2 gives D major / B minor." if key_normalized else "")))
        low, high = st.select_slider("Pitch range", options=list(range(PIANO[0], PIANO[1] + 1)), value=PIANO,
                                     format_func=pitch_name)
        density = st.slider("Note density", 0.25, 4.0, 1.0, 0.05, help="Above 1: busier. Below 1: sparser.")
    with st.expander("Start from (primer)", icon=":material/play_circle:"):
        transcriptions = state.transcriptions()
        primer_source = st.radio(
            "Primer", ["Silence", "A MIDI file", "A transcription", "A random dataset piece"], horizontal=True)
        primer_file = st.file_uploader("MIDI primer", type=list(C.MIDI_EXTENSIONS))
        primer_name = st.selectbox("Transcription", list(transcriptions) or ["(none yet)"])
    submitted = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:")


def settings(**overrides) -> GenerateConfig:
    # The whole slider is "no limit": the config's default range, so share links stay short.
    low_limit, high_limit = (defaults.pitch_low, defaults.pitch_high) if (low, high) == PIANO else (low, high)
    values = dict(
        length=int(length), seconds=float(seconds), temperature=float(temperature), top_k=int(top_k),
        top_p=float(top_p), repetition_penalty=float(penalty), no_repeat_window=int(window), beam_width=int(beam),
        seed=int(seed), tempo_bpm=float(bpm), program=int(program), scale=scale, key=int(key), pitch_low=int(low_limit),
        pitch_high=int(high_limit), density=float(density), max_chord=int(max_chord), transpose=int(transpose),
    )
    return GenerateConfig(**{**values, **overrides})


def chosen_primer():
    from neurotunes.errors import BadConfig

    if primer_source == "A MIDI file":
        if primer_file is None:
            raise BadConfig("choose a MIDI file for the primer, or start from silence")
        from neurotunes.midi_io import midi_to_score

        return midi_to_score(primer_file.getvalue(), name=primer_file.name)
    if primer_source == "A transcription":
        if primer_name not in transcriptions:
            raise BadConfig("transcribe something first (Transcribe page), or start from silence")
        return transcriptions[primer_name].score
    if primer_source == "A random dataset piece":
        import numpy as np

        built = st.session_state.get(state.BUILT_DATASET)
        if built is not None:
            pieces = list(built.train)
        else:
            from neurotunes.corpus import load_corpus

            pieces = load_corpus("bach", limit=20)
        piece = pieces[int(np.random.default_rng(int(seed)).integers(len(pieces)))]
        # The opening few bars are enough to set key, texture and pace.
        return piece.with_notes(n for n in piece.notes if n.start < 8 * piece.seconds_per_beat)
    return None


def keep_take(result, config: GenerateConfig, *, parent: int | None = None, primed: bool = False) -> None:
    """Add a generated take to the session and select it (the radio picks it up on its next draw)."""
    takes = state.takes()
    number = max((t.number for t in takes), default=0) + 1
    takes.append(state.Take(number, result.score, cache.current_bundle().name, config.to_dict(), result.trace,
                            parent, model_key=state.active_model(), primed=primed))
    st.session_state[state.TAKE_TO_SHOW] = number


def make_takes(config: GenerateConfig, primer, parent: int | None = None, count: int = 1) -> None:
    from dataclasses import replace

    from neurotunes.generate import generate_traced

    bundle = cache.current_bundle()
    with heavy_job("Composing"):
        bar = st.progress(0.0, text="Composing…")
        for i in range(count):
            cfg = replace(config, seed=config.seed + i)
            result = generate_traced(
                bundle, cfg, primer=primer,
                on_progress=lambda n, total: bar.progress(min(n / total, 1.0), text=f"Composing take {i + 1}…"))
            keep_take(result, cfg, parent=parent, primed=primer is not None)
        bar.empty()


def open_shared_link(params: dict[str, str]) -> None:
    """Regenerate the take a share link describes (validated: a tampered link is a message)."""
    from neurotunes.errors import BadModel
    from neurotunes.share import parse_share_params

    model, model_hash, config = parse_share_params(params)
    if cache.shipped_bundle(model).hash[: len(model_hash)] != model_hash:
        raise BadModel("the link was made with another version of this model, so it cannot be reproduced here")
    state.set_active_model(model)
    with st.spinner("Composing the shared take…"):
        keep_take(cache.shared_take(model, config, guard=lambda: heavy_job("Composing")), config)


link = st.query_params.to_dict()
if "model" in link and st.session_state.get("share_applied") != sorted(link.items()):
    st.session_state["share_applied"] = sorted(link.items())  # once per link, not on every rerun
    guarded(lambda: open_shared_link(link), what="Could not open the shared link")

if submitted:
    guarded(lambda: make_takes(settings(), chosen_primer(), count=int(variations)), what="Generation failed")

takes = state.takes()
if not takes:
    st.info("No takes yet: press **Generate** to hear the model.", icon=":material/music_note:")
    st.stop()

numbers = [t.number for t in takes]
if st.session_state.get(state.TAKE_TO_SHOW) in numbers:  # a take just made: show it, not the one viewed before
    st.session_state[state.TAKE_SHOWN] = st.session_state.pop(state.TAKE_TO_SHOW)
if st.session_state.get(state.TAKE_SHOWN) not in numbers:
    st.session_state[state.TAKE_SHOWN] = numbers[-1]
st.divider()
pick = st.radio("Takes", numbers[::-1], horizontal=True, format_func=lambda n: f"Take {n}", key=state.TAKE_SHOWN)
take = next(t for t in takes if t.number == pick)
s = take.settings

from neurotunes.metrics import repetition_stats  # noqa: E402  - light; only needed once there is a take

st.subheader(f"Take {take.number}" + (f" (continues take {take.parent})" if take.parent else ""))
st.caption(f"{take.model_name} · temperature {s['temperature']} · seed {s['seed']} · {s['length']} notes"
           + (f" · beam {s['beam_width']}" if s["beam_width"] > 1 else "")
           + (f" · {s['scale']} on {KEYS[s['key']]}" if s["scale"] != "chromatic" else "")
           + (f" · transposed {s['transpose']:+d}" if s.get("transpose") else ""))
if take.score.metadata.get("stopped_early"):
    st.warning(take.score.metadata["stopped_early"], icon=":material/timer:")
stats = repetition_stats(take.score)
if stats["collapsed"]:
    st.warning(f"This take collapsed: one pitch repeats {stats['longest_run']} times in a row or makes up "
               f"{stats['top_pitch_share']:.0%} of the notes. Try a higher temperature or a repetition penalty.",
               icon=":material/warning:")
show_score(take.score, key=f"take{take.number}", playback_controls=False,
           title=f"Take {take.number} · {take.model_name} · seed {s['seed']}",
           file_stem=f"neurotunes-{take.model_name}-take{take.number}-seed{s['seed']}-temp{s['temperature']}",
           primer_notes=int(take.score.metadata.get("primer_notes", 0)))

if take.model_key in SHIPPED_MODELS and not take.primed:
    from urllib.parse import urlencode

    from neurotunes.share import share_params

    params = share_params(take.model_key, cache.shipped_bundle(take.model_key).hash, GenerateConfig.from_dict(s))
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
        st.session_state["share_applied"] = sorted(params.items())
    base = (st.context.url or "").split("?", 1)[0]
    st.caption("Share link — opening it regenerates and plays this exact take:")
    st.code(f"{base}?{urlencode(params)}", language=None)
else:
    if "model" in st.query_params:  # the address bar must not keep another take's link
        st.query_params.clear()
        st.session_state.pop("share_applied", None)
    st.caption("Takes from a primer or from a model trained in this session cannot be shared as a link; "
               "download the MIDI instead (it carries its recipe).")

with st.form(f"save_{take.number}", border=False):
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    title = c1.text_input("Title", f"Take {take.number}", max_chars=100)
    if c2.form_submit_button("Save to gallery", icon=":material/library_add:"):
        def save():
            from neurotunes import gallery
            from neurotunes.ui.visitor import visitor_secret

            audio = cache.render_current(take.score.to_json(), "mp3")
            track_id = gallery.save_track(title, take.score, cache.midi_cached(take.score.to_json()), audio,
                                          model=take.model_name, owner=visitor_secret())
            st.success(f"Saved as track {track_id}; it is on the Gallery page.")

        guarded(save, what="Could not save")

c1, c2, c3, _ = st.columns([1.2, 1.4, 1, 2])
if c1.button("Continue this take", icon=":material/playlist_play:"):
    guarded(lambda: make_takes(settings(seed=int(s["seed"]) + 1000), take.score, parent=take.number),
            what="Continuing failed")
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
        from neurotunes.plotting import choice_bars

        step = st.slider("Step", 1, len(take.trace), 1, key=f"trace_step_{take.number}")
        t = take.trace[step - 1]
        st.plotly_chart(choice_bars(t.top_tokens, t.top_probs, chosen=t.token, title=f"Step {step}"),
                        width="stretch", key=f"trace_{take.number}_{step}")

if len(takes) > 1:
    with st.expander(f"Compare with another take ({len(takes) - 1} more)", icon=":material/compare:"):
        other_number = st.selectbox("Other take", [n for n in numbers if n != take.number],
                                    format_func=lambda n: f"Take {n}")
        other = next(t for t in takes if t.number == other_number)
        show_score(other.score, key=f"cmp{other.number}", playback_controls=False,
                   file_stem=f"neurotunes-{other.model_name}-take{other.number}-seed{other.settings['seed']}")
