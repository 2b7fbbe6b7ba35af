"""Generate: every sampling control -> takes you can play, compare, continue, explain and download."""

import json
from dataclasses import replace

import streamlit as st

from neurotunes import constants as C
from neurotunes import gallery, primers
from neurotunes.config import GenerateConfig
from neurotunes.encodings import encoding_for
from neurotunes.generate import Generation, compose
from neurotunes.plotting import choice_bars
from neurotunes.regenerate import bar_count, regenerate
from neurotunes.share import take_from_link
from neurotunes.ui import cache, state
from neurotunes.ui.generate_form import choices_for, describe_note, note_steps, settings_in_words, take_label
from neurotunes.ui.player import compare_along, play_along, roll_view
from neurotunes.ui.visitor import visitor_secret
from neurotunes.ui.widgets import (fill_setting_widgets, follow_model_suggestions, guarded, heavy_job,
                                   model_suggestions, setting_widgets, share_link, show_score, take_warnings)

st.title("Generate")
st.caption("Pick a model and a few settings, press Generate, and listen. Every take is kept below.")
top = st.container()  # a share link's banner and take: on top, above the form


def keep_take(made: Generation, *, parent: int | None = None, primed: bool = False) -> state.Take:
    return state.keep_take(made, model_name=cache.current_bundle().name, model_key=state.active_model(),
                           parent=parent, primed=primed)


def open_shared_link(params: dict[str, str]) -> None:
    """Regenerate the take a share link describes (validated: a tampered link is a message) and fill the form
    with its settings (before the form is drawn)."""
    model, config = take_from_link(params, bundle_for=cache.shipped_bundle)
    state.set_active_model(model)
    # A take this browser already has (a refresh, another tab: the address bar holds the take shown) is shown
    # as it is: no second copy, and no banner for one's own take.
    had = next((t for t in state.takes() if t.model_key == model and not t.primed and t.config == config), None)
    if had is not None:
        st.session_state[state.TAKE_TO_SHOW] = had.number
        return
    outside = fill_setting_widgets(config)
    with st.spinner("Composing the shared take…"):
        take = keep_take(cache.shared_take(model, config, guard=lambda: heavy_job("Composing")))
    st.session_state[state.SHARED_TAKE] = (take.number, tuple(outside))


def close_shared_link(number: int) -> None:
    """Make your own: the banner goes and the address bar forgets the link; the form keeps its settings."""
    st.query_params.clear()
    st.session_state.pop(state.SHARED_TAKE, None)
    st.session_state[state.LINK_CLOSED] = number


link = st.query_params.to_dict()
if "model" in link and st.session_state.get(state.SHARE_APPLIED) != sorted(link.items()):
    st.session_state[state.SHARE_APPLIED] = sorted(link.items())  # once per link, not on every rerun
    with top:
        guarded(lambda: open_shared_link(link), what="Could not open the shared link")

models = [*C.SHIPPED_MODELS, *state.trained_models()]
current = state.active_model()
choice = st.selectbox("Model", models, index=models.index(current), format_func=cache.model_label,
                      help="The music a model learned from is its style: the Bach chorales write four-part hymns, "
                           "the fiddle tunes reels and jigs. Train your own on the Train page.")
if choice != current:
    state.set_active_model(choice)
    st.rerun()  # the sidebar, drawn before this page, names the model now chosen
follow_model_suggestions(state.active_model())  # the chosen model's suggested settings, unless the form holds them

# Outside the form, so that choosing a source shows that source's inputs at once (a form waits for its button).
with st.expander("Start from (primer)", icon=":material/play_circle:"):
    transcriptions = state.transcriptions()
    primer_source = st.radio("Primer", primers.SOURCES, horizontal=True, key=state.PRIMER_SOURCE,
                             help="What the take continues: silence, or the opening of some music, whose key, "
                                  "texture and pace the model takes up (its notes stay at the start, in orange).")
    primer_file = primer_name = None
    if primer_source == "A MIDI file":
        primer_file = st.file_uploader("MIDI primer", type=list(C.MIDI_EXTENSIONS), key=state.PRIMER_MIDI,
                                       help="A MIDI file whose music the take continues.")
    elif primer_source == "A transcription":
        if transcriptions:
            primer_name = st.selectbox("Transcription", list(transcriptions), key=state.PRIMER_TRANSCRIPTION,
                                       help="Music you transcribed on the Transcribe page; the take continues it.")
        else:
            st.info("No transcriptions yet: record or upload music on the Transcribe page first.",
                    icon=":material/graphic_eq:")
    elif primer_source == "A random dataset piece":
        st.caption("The first two bars of a piece from the dataset you built on the Dataset page (else from the "
                   "Bach chorales); the seed picks the piece.")

key_normalized = guarded(lambda: cache.current_bundle().key_normalized, what="Could not load the model") or False
# Not an st.form: a form sends its values only when its button is pressed, so a setting changed and not yet
# used was lost on a visit to another page.  Every change is kept at once (one quick rerun of this page).
with st.container(border=True, key=state.GENERATE_FORM):
    values = setting_widgets(GenerateConfig, "main")
    count = st.columns(3)[0].number_input("Takes at once", 1, C.MAX_VARIATIONS, 1, key=state.TAKES_AT_ONCE,
                                          help="Several takes of the same settings with seeds S, S+1, …: "
                                               "one idea, different music.")
    with st.expander("Sampling", icon=":material/casino:"):
        suggested = model_suggestions(state.active_model())
        if suggested:
            st.caption(f"This model suggests {settings_in_words(GenerateConfig(**suggested), basics=False)}, the "
                       "setting at which its music came closest to the pieces it learned from; the form starts there.")
        values |= setting_widgets(GenerateConfig, "sampling", columns=4)
    with st.expander("Musical constraints", icon=":material/piano:"):
        values |= setting_widgets(GenerateConfig, "constraints", extra_help={
            "transpose": "This model is one (it learned every piece moved there): +2 gives D major / B minor."
        } if key_normalized else None)
    submitted = st.button("Generate", type="primary", icon=":material/auto_awesome:", key=state.GENERATE_BUTTON,
                          help="Write new music with these settings; it appears below, ready to play.")
    generate_progress = st.empty()  # progress right under the button, where the user is looking


def chosen_primer():
    chosen = transcriptions.get(primer_name) if primer_name else None
    built = st.session_state.get(state.BUILT_DATASET)
    return primers.choose(primer_source, seed=values["seed"], transcription=chosen.score if chosen else None,
                          midi=(primer_file.name, primer_file.getvalue()) if primer_file else None,
                          dataset=list(built.train) if built is not None else None)


def rewrite_bars(take: state.Take, values: dict) -> None:
    """Choose bars of ``take``, write candidates for them, hear each, keep one as a new take (undo removes it)."""
    bars = bar_count(take.score)
    if bars < 2:
        st.caption("This take is one bar long: make a new take instead.")
        return
    number = take.number
    middle = max(1, bars // 2)
    span = st.slider("Bars to write again", 1, bars, (middle, min(bars, middle + 1)),
                     key=state.take_key("rewrite_bars", number),
                     help="The music before and after these bars stays as it is; only these bars are new.")
    count = st.number_input("Candidates", 1, 4, 3, key=state.take_key("rewrite_count", number),
                            help="How many versions to write. The one that leads best into the bar after comes "
                                 "first.")
    candidates_key = state.take_key("rewrite_made", number)
    if st.button("Write candidates", icon=":material/edit_note:", key=state.take_key("rewrite_go", number)):
        tries = st.session_state.get(candidates_key, (None, None, 0))[2] + 1
        config = replace(GenerateConfig(**values), seed=take.config.seed + C.CONTINUATION_SEED_OFFSET * tries)
        key = take.model_key if state.model_available(take.model_key) else state.active_model()
        with heavy_job("Composing"), st.spinner(f"Writing bars {span[0]}-{span[1]} again…"):
            made = regenerate(cache.bundle_for(key), take.score, span[0], span[1], count=int(count), config=config)
        st.session_state[candidates_key] = (tuple(span), made, tries)
    found = st.session_state.get(candidates_key)
    if not found or found[1] is None:
        return
    (first, last), made, _ = found
    after = f"bar {last + 1}" if last < bars else None
    for i, candidate in enumerate(made):
        fit = f" · leads best into {after}" if i == 0 and after and candidate.join is not None else ""
        st.markdown(f"**Candidate {i + 1}** · bars {first}-{last} · {candidate.new_notes} new notes{fit}")
        mp3 = guarded(lambda: cache.render_current(candidate.score.to_json(), "mp3"), what="Rendering failed")
        if mp3 is not None:
            play_along(candidate.score, mp3)
        if st.button("Keep this one", key=state.take_key(f"rewrite_keep{i}", number), icon=":material/check:",
                     help="Add it as a new take after this one; Undo last change takes it back."):
            # A rewrite is not what its settings alone make: like a primed take, it is shared as a file, not a link.
            score = candidate.score.with_metadata(rewritten_bars=[first, last])
            kept = state.keep_take(Generation(score=score), model_name=take.model_name,
                                   model_key=take.model_key, parent=number, primed=True)
            st.session_state[state.TAKE_SCROLL] = kept.number
            del st.session_state[candidates_key]
            st.rerun()


def make_takes(config: GenerateConfig, primer, parent: int | None = None, count: int = 1) -> bool:
    """Compose ``count`` takes; the newest is shown and scrolled into view on the page's next draw."""
    first = max((t.number for t in state.takes()), default=0) + 1
    with heavy_job("Composing"):
        bar = st.progress(0.0, text=f"Composing take {first}…")

        def progress(take: int, notes: int, total: int) -> None:
            of = f" ({take} of {count})" if count > 1 else ""
            bar.progress(min(notes / total, 1.0), text=f"Composing take {first + take - 1}{of}: "
                                                        f"{notes} of {total} notes…")

        made = compose(cache.current_bundle(), config, count=count, primer=primer, traced=True,
                       on_progress=progress)
        bar.empty()
    for generation in made:
        kept = keep_take(generation, parent=parent, primed=primer is not None)
    st.session_state[state.TAKE_SCROLL] = kept.number
    st.session_state.pop(state.SHARED_TAKE, None)  # making your own ends a shared link's banner
    return True


if submitted:
    with generate_progress.container():
        guarded(lambda: make_takes(GenerateConfig(**values), chosen_primer(), count=int(count)),
                what="Generation failed")

takes = state.takes()
if not takes:
    st.info("No takes yet: press **Generate** to hear the model.", icon=":material/music_note:")
    st.stop()
numbers = [t.number for t in takes]
take = state.take_shown()
shared = st.session_state.get(state.SHARED_TAKE)
shared = shared if shared and shared[0] == take.number else None  # the banner belongs to the shared take
with top if shared else st.container():
    if shared:
        with st.container(border=True):
            words, action = st.columns([3, 1], vertical_alignment="center")
            words.markdown(f":material/share: **Shared with you:** {take.model_name}, "
                           f"{settings_in_words(take.config)}.")
            note = "Press play below to hear it. The form below holds its settings: change one and press Generate."
            if shared[1]:
                note += (f" ({', '.join(shared[1])}: the form shows the nearest value it offers; the take keeps "
                         "the link's.)")
            words.caption(note)
            action.button("Make your own", type="primary", icon=":material/edit:", on_click=close_shared_link,
                          args=(shared[0],), help="Close the shared link and start from its settings: the form "
                                                  "keeps them, and your takes get links of their own.")
    else:
        st.divider()
    scroll_to = st.session_state.pop(state.TAKE_SCROLL, None)
    with st.container():
        if len(takes) > 1:
            labels = {t.number: take_label(t) for t in takes}
            st.radio("Takes", numbers[::-1], format_func=labels.get, key=state.TAKE_SHOWN,
                     help="Every take of this session, newest first: pick one to hear it.")
    cfg = take.config

    anchor = f"take-{take.number}"
    st.subheader(take_label(take), anchor=anchor)
    scroll_spot = st.empty()  # always there, so the elements after it keep their places
    if scroll_to == take.number:
        # Bring the new take's heading and player into view, once (our own id: no user text in the script).
        scroll_spot.html(f"""<script>(function () {{
  // Keep the heading at the top while the page below it is still arriving (a page too short cannot scroll
  // it there yet), for up to 30 s, until it stays put or the user scrolls, types or clicks.
  const id = {json.dumps(anchor)}, started = performance.now();
  let userMoved = false, moves = 0, there = 0;
  for (const ev of ["wheel", "touchmove", "keydown", "mousedown"]) {{
    window.addEventListener(ev, () => {{ userMoved = true; }}, {{once: true, capture: true}});
  }}
  function step() {{
    if (userMoved || performance.now() - started > 30000) return;
    const el = document.getElementById(id);
    if (el) {{
      el.style.scrollMarginTop = "4.5rem";
      const top = el.getBoundingClientRect().top;
      if (top < 40 || top > 120) {{
        el.scrollIntoView({{block: "start", behavior: moves++ ? "auto" : "smooth"}});
        there = 0;
      }} else if (!there) {{
        there = performance.now();
      }} else if (performance.now() - there > 2000) {{
        return;  // there, and staying
      }}
    }}
    setTimeout(step, moves === 1 ? 700 : 200);
  }}
  step();
}})();</script><!-- {take.number}:{len(takes)} -->""", unsafe_allow_javascript=True)

    more = settings_in_words(cfg, basics=False)  # the label says temperature, seed and length
    rewritten = take.score.metadata.get("rewritten_bars")
    origin = (f"take {take.parent} with bars {rewritten[0]}-{rewritten[1]} written again" if rewritten else
              f"continues take {take.parent}")
    st.caption(" · ".join([take.model_name, *([origin] if take.parent else []),
                           *([more] if more else [])]))
    with st.container():  # (each part that may be absent sits in its own container: the rest keep their places)
        take_warnings(take.score)
    show_score(take.score, key=state.take_key("take", take.number), playback_controls=False,
               title=f"Take {take.number} · {take.model_name} · seed {cfg.seed}",
               file_stem=f"neurotunes-{take.model_name}-take{take.number}-seed{cfg.seed}-temp{cfg.temperature}",
               primer_notes=int(take.score.metadata.get("primer_notes", 0)))
    with st.container():
        share_link(take, in_address_bar=take.number != st.session_state.get(state.LINK_CLOSED))

    with st.form(state.take_key("save", take.number), border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        # (No help icon: the label says it and the button beside it explains; a help icon would be a second
        # element labelled "Title" for the browser tests.)
        title = c1.text_input("Title", f"Take {take.number}", max_chars=100)
        saved = guarded(lambda: gallery.find_take(take.score), what="Could not open the gallery")  # one per take
        if c2.form_submit_button("Saved" if saved else "Save to gallery", disabled=bool(saved),
                                 icon=":material/check:" if saved else ":material/library_add:",
                                 help=f"This take is track {saved} on the Gallery page." if saved else
                                 "Keep this take on the Gallery page, for you and for visitors to hear."):
            def save():
                audio = cache.render_current(take.score.to_json(), "mp3")
                gallery.save_track(title, take.score, cache.midi_cached(take.score.to_json()), audio,
                                   model=take.model_name, owner=visitor_secret())
                st.rerun()  # the button says "Saved" from now on

            guarded(save, what="Could not save")

    c1, c2, c3, _ = st.columns([1.2, 1.4, 1, 2])
    continuing = c1.button("Continue this take", icon=":material/playlist_play:",
                           help="Write more music after this take's last note, with the settings above.")
    last = takes[-1]
    undo = c2.button("Undo last change", icon=":material/undo:", disabled=last.parent is None,
                     help="Remove the newest continuation or rewrite and show the take it came from.")
    delete = c3.button("Delete take", icon=":material/delete:",
                       help="Remove this take from the session (a copy saved to the gallery stays).")
    if continuing:
        continuation = replace(GenerateConfig(**values), seed=cfg.seed + C.CONTINUATION_SEED_OFFSET)
        if guarded(lambda: make_takes(continuation, take.score, parent=take.number), what="Continuing failed"):
            st.rerun()
    if undo:
        takes.remove(last)
        st.session_state[state.TAKE_TO_SHOW] = last.parent
        st.rerun()
    if delete:
        takes.remove(take)
        st.rerun()

    # Lazy, as below: nothing is drawn for the rewrite until the user opens it.
    rewrite = st.expander("Rewrite some bars", icon=":material/edit_note:",
                          key=state.take_key("rewrite_open", take.number), on_change="rerun")
    with rewrite:
        if rewrite.open:
            guarded(lambda: rewrite_bars(take, values), what="Could not rewrite the bars")

    if take.trace:
        # Lazy: the explanation (a roll and its charts) is worked out only while the expander is open.
        why = st.expander("Why this note? What the model weighed, note by note", icon=":material/insights:",
                          key=state.take_key("why_open", take.number), on_change="rerun")
        with why:
            def explain() -> None:
                if not state.model_available(take.model_key):
                    st.caption("The model that made this take is no longer loaded, so its choices cannot be read.")
                    return
                encoding = encoding_for(cache.bundle_for(take.model_key).encoding)
                notes = note_steps(take.score, take.trace, encoding)
                if not notes:
                    st.caption("No generated note of this take could be traced back to the model's choices.")
                    return
                picked = 1
                if len(notes) > 1:
                    picked = st.slider("Note", 1, len(notes), 1, key=state.take_key("why_note", take.number),
                                       help="Pick a generated note: the roll rings it, the charts show the options "
                                            "the model weighed when it wrote it.")
                note = notes[picked - 1]
                st.markdown(f"**Note {picked} of {len(notes)}: {describe_note(take.score, note)}**")
                roll_view(take.score, highlight=note.notes,
                          primer_notes=int(take.score.metadata.get("primer_notes", 0)))
                charts = st.columns(2)
                for i, choice in enumerate(choices_for(note, take.trace, encoding)):
                    chance = next((p for o, p in zip(choice.options, choice.probs) if o == choice.chosen), None)
                    title = f"{choice.question}: {choice.chosen}" + (f" ({chance:.0%})" if chance else "")
                    fig = choice_bars(choice.options, choice.probs, chosen=choice.chosen, title=title)
                    fig.update_xaxes(title_text=None)
                    charts[i % 2].plotly_chart(fig, width="stretch",
                                               key=state.take_key(f"why{picked}_{i}", take.number))
                st.caption("The bars: the model's likeliest options at that moment, in orange the one it drew.")

            if why.open:
                guarded(explain, what="Could not explain this take")

    if len(takes) > 1:
        if st.toggle("Compare with another take", key=state.COMPARE,
                     help="Both takes on one time scale with one play button; switch between A and B while "
                          "the music plays."):
            labels = {t.number: take_label(t) for t in takes}
            other_number = st.selectbox("Take B", [n for n in numbers[::-1] if n != take.number],
                                        format_func=labels.get, help="The take to set against the one shown (A).")
            other = next(t for t in takes if t.number == other_number)

            def compare() -> None:
                audio = [cache.render_current(t.score.to_json(), "mp3") for t in (take, other)]
                pair = [(take_label(t), t.score, a, int(t.score.metadata.get("primer_notes", 0)))
                        for t, a in zip((take, other), audio)]
                if not compare_along(pair):
                    st.caption("These takes are too long to compare here; play them one by one above.")

            guarded(compare, what="Could not compare the takes")
