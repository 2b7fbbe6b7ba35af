"""Gallery: tracks saved by everyone using this NeuroTunes, a page at a time: see, play, share, continue, delete."""

import datetime
import json
import time
from urllib.parse import urlencode

import streamlit as st

from neurotunes import constants as C
from neurotunes import gallery
from neurotunes.config import GenerateConfig
from neurotunes.errors import NeuroTunesError
from neurotunes.generate import Generation
from neurotunes.share import share_params
from neurotunes.ui import state
from neurotunes.ui.cache import shipped_bundle
from neurotunes.ui.visitor import visitor_secret
from neurotunes.ui.widgets import fill_setting_widgets, guarded, slug

st.title("Gallery")
st.caption("Tracks saved from the Generate page. Everyone using this NeuroTunes sees the same gallery; "
           "a track can be deleted only from the browser that saved it.")

# This page's per-track widgets beside those named in ui/state.py (state.item_key(what, track id)).
TRACK_UNDO, TRACK_CONTINUE = "g_undo", "g_continue"

me = visitor_secret()
password = ""
with st.expander("Operator", icon=":material/admin_panel_settings:"):
    if gallery.operator_enabled():
        password = st.text_input("Operator password", type="password", key=state.GALLERY_OPERATOR)
        if password and not gallery.is_operator(password):
            st.error("That is not the operator password.")
            password = ""
        elif password:
            st.success("Operator: you can delete any track.", icon=":material/verified_user:")
    else:
        st.caption(f"Operator deletion is off: set {gallery.ADMIN_PASSWORD_ENV} on the server to turn it on.")


@st.cache_data(show_spinner=False, max_entries=200)
def piano_roll(database: str, track_id: int) -> str:
    """A track's piano-roll picture: made once per track (ids are never reused), from its MIDI alone."""
    return gallery.roll_svg(gallery.track_score(track_id, path=database))


@st.cache_resource(show_spinner=False)
def shipped_models_by_hash() -> dict[str, str]:
    """{content hash: name} of the shipped models (a bundle's hash costs about 40 ms: once per process)."""
    return {shipped_bundle(name).hash: name for name in C.SHIPPED_MODELS}


def shipped_model(model_hash: str) -> str:
    """The shipped model that made a track (by its content hash), or "" for a model trained somewhere."""
    return shipped_models_by_hash().get(model_hash, "") if model_hash else ""


def share_url(track: gallery.TrackInfo) -> str | None:
    """The link that regenerates a track: only for a take of a shipped model without a primer."""
    model = "" if track.primed or not track.settings else shipped_model(track.model_hash)
    if not model:
        return None
    try:
        params = share_params(model, track.model_hash, GenerateConfig.from_dict(json.loads(track.settings)))
    except (NeuroTunesError, ValueError):  # settings from another release: no link, the track still plays
        return None
    base = (st.context.url or "").split("?", 1)[0].rsplit("/gallery", 1)[0]  # the Generate page: the app's root
    return f"{base}?{urlencode(params)}"


def continue_in_generate(track: gallery.TrackInfo) -> bool:
    """Make the track a take of this session and its settings the Generate page's; True when done."""
    score = gallery.track_score(track.id)
    config = GenerateConfig.from_dict(json.loads(track.settings)) if track.settings else GenerateConfig()
    model = shipped_model(track.model_hash)
    if model:  # a take of a shipped model continues with that model; another model's with the one in use
        state.set_active_model(model)
    fill_setting_widgets(config)
    take = state.keep_take(Generation(score=score, config=config), model_name=track.model, model_key=model,
                           primed=track.primed)
    st.session_state[state.TAKE_SCROLL] = take.number  # the Generate page opens at the take, not at its form
    return True


# Delete and Undo act in their buttons' callbacks, before the page is drawn: the list shows the result at once.
def delete(track_id: int) -> None:
    # The library checks the owner and password again: the button is a convenience, not the lock.
    guarded(lambda: gallery.delete_track(track_id, owner=me, admin_password=password or None), what="Could not delete")


def undo(track_id: int) -> None:
    guarded(lambda: gallery.restore_track(track_id, owner=me, admin_password=password or None), what="Could not undo")


def show_deleted(track: gallery.TrackInfo) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.text(track.title)  # plain text: a title is never rendered as Markdown or HTML
        minutes = max(1, round((track.undo_until - time.time()) / 60))
        st.caption(f"Deleted · you can undo this for {minutes} more minute{'s' if minutes > 1 else ''}")
        st.button("Undo", key=state.item_key(TRACK_UNDO, track.id), icon=":material/undo:", type="primary",
                  on_click=undo, args=(track.id,))


def show_track(track: gallery.TrackInfo) -> None:
    when = datetime.datetime.fromtimestamp(track.created).strftime("%Y-%m-%d %H:%M")
    st.text(track.title)  # plain text: a title is never rendered as Markdown or HTML
    st.caption(f"{track.notes} notes · {track.seconds:.1f} s · {track.model} · saved {when}"
               + (" · yours" if track.mine else ""))
    roll = guarded(lambda: piano_roll(str(gallery.location()), track.id), what="Could not draw the notes")
    if roll is not None:
        st.image(roll, width="stretch")
    with st.container(horizontal=True, vertical_alignment="center"):  # wraps onto more lines on a phone
        listen = st.toggle("Listen", key=state.item_key(state.TRACK_LISTEN, track.id))
        stem = slug(track.title)
        # Callables: the files leave the database only when someone presses the button.
        st.download_button("MIDI", lambda t=track.id: gallery.track_files(t)[0], file_name=f"{stem}.mid",
                           mime="audio/midi", key=state.item_key(state.TRACK_MIDI, track.id),
                           icon=":material/download:", on_click="ignore")
        st.download_button("MP3", lambda t=track.id: gallery.track_files(t)[1], file_name=f"{stem}.mp3",
                           mime="audio/mpeg", key=state.item_key(state.TRACK_MP3, track.id),
                           icon=":material/download:", on_click="ignore")
        go = st.button("Continue in Generate", key=state.item_key(TRACK_CONTINUE, track.id),
                       icon=":material/playlist_play:",
                       help="Open this track on the Generate page as a take: play it, continue it, share it.")
        if track.mine or password:
            with st.popover("Delete", icon=":material/delete:"):
                st.caption(f"Delete it for everyone? You can undo this for {gallery.UNDO_SECONDS // 60} minutes.")
                st.button("Yes, delete", key=state.item_key(state.TRACK_DELETE, track.id), icon=":material/delete:",
                          type="primary", on_click=delete, args=(track.id,))
    if go and guarded(lambda: continue_in_generate(track), what="Could not open the track"):
        st.switch_page("app_pages/generate.py")
    if listen:
        files = guarded(lambda: gallery.track_files(track.id), what="Could not read the track")
        if files is not None:
            st.audio(files[1], format="audio/mpeg", autoplay=True)
    url = guarded(lambda: share_url(track), what="Could not make the share link")
    if url:
        st.caption("Share link — opening it regenerates this exact take:")
        st.code(url, language=None, wrap_lines=True)


live = guarded(gallery.count_tracks, what="Could not open the gallery") or 0
total = guarded(lambda: gallery.count_tracks(owner=me, admin_password=password or None),
                what="Could not open the gallery") or 0  # with the deletions this visitor can still undo
if not total:
    st.info("Nothing saved yet: generate a take and press **Save to gallery**.", icon=":material/library_music:")
else:
    pages = -(-total // gallery.PAGE_SIZE)
    if st.session_state.get(state.GALLERY_PAGE, 1) > pages:  # the last page emptied by a delete
        st.session_state[state.GALLERY_PAGE] = pages
    page = st.pagination(pages, key=state.GALLERY_PAGE) if pages > 1 else 1
    first = (page - 1) * gallery.PAGE_SIZE
    shown = f" · showing {first + 1}–{min(first + gallery.PAGE_SIZE, total)}" if pages > 1 else ""
    st.caption(f"{live} track{'' if live == 1 else 's'}, newest first{shown}")
    tracks = guarded(lambda: gallery.list_tracks(owner=me, admin_password=password or None,
                                                 limit=gallery.PAGE_SIZE, offset=first),
                     what="Could not open the gallery") or []
    for track in tracks:
        with st.container(border=True):
            if track.deleted is None:
                show_track(track)
            else:
                show_deleted(track)
