"""Gallery: tracks saved by everyone using this NeuroTunes, a page at a time, to play, download and delete."""

import datetime

import streamlit as st

from neurotunes.ui import state
from neurotunes.ui.visitor import visitor_secret
from neurotunes.ui.widgets import guarded, slug

st.title("Gallery")
st.caption("Tracks saved from the Generate page. Everyone using this NeuroTunes sees the same gallery; "
           "a track can be deleted only from the browser that saved it.")

from neurotunes import gallery  # noqa: E402  - sqlite3 only; imported after the title so it paints first

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

total = guarded(gallery.count_tracks, what="Could not open the gallery") or 0
if not total:
    st.info("Nothing saved yet: generate a take and press **Save to gallery**.", icon=":material/library_music:")
else:
    pages = -(-total // gallery.PAGE_SIZE)
    if st.session_state.get(state.GALLERY_PAGE, 1) > pages:  # the last page emptied by a delete
        st.session_state[state.GALLERY_PAGE] = pages
    page = st.pagination(pages, key=state.GALLERY_PAGE) if pages > 1 else 1
    first = (page - 1) * gallery.PAGE_SIZE
    shown = f" · showing {first + 1}–{min(first + gallery.PAGE_SIZE, total)}" if pages > 1 else ""
    st.caption(f"{total} track{'s' if total > 1 else ''}, newest first{shown}")
    tracks = guarded(lambda: gallery.list_tracks(owner=me, limit=gallery.PAGE_SIZE, offset=first),
                     what="Could not open the gallery") or []
    for track in tracks:
        with st.container(border=True):
            about, actions = st.columns([1, 1], vertical_alignment="center")
            when = datetime.datetime.fromtimestamp(track.created).strftime("%Y-%m-%d %H:%M")
            about.text(track.title)  # plain text: a title is never rendered as Markdown or HTML
            about.caption(f"{track.notes} notes · {track.seconds:.1f} s · {track.model} · saved {when}"
                          + (" · yours" if track.mine else ""))
            with actions.container(horizontal=True, horizontal_alignment="right", vertical_alignment="center"):
                listen = st.toggle("Listen", key=state.item_key(state.TRACK_LISTEN, track.id))
                stem = slug(track.title)
                # Callables: the files leave the database only when someone presses the button.
                st.download_button("MIDI", lambda t=track.id: gallery.track_files(t)[0], file_name=f"{stem}.mid",
                                   mime="audio/midi", key=state.item_key(state.TRACK_MIDI, track.id),
                                   icon=":material/download:", on_click="ignore")
                st.download_button("MP3", lambda t=track.id: gallery.track_files(t)[1], file_name=f"{stem}.mp3",
                                   mime="audio/mpeg", key=state.item_key(state.TRACK_MP3, track.id),
                                   icon=":material/download:", on_click="ignore")
                delete = (track.mine or bool(password)) and st.button(
                    "Delete", key=state.item_key(state.TRACK_DELETE, track.id), icon=":material/delete:")
            if delete:
                # The library checks the owner and password again: the button is a convenience, not the lock.
                if guarded(lambda t=track.id: gallery.delete_track(t, owner=me, admin_password=password or None),
                           what="Could not delete") is not None:
                    st.rerun()
            if listen:
                files = guarded(lambda t=track.id: gallery.track_files(t), what="Could not read the track")
                if files is not None:
                    st.audio(files[1], format="audio/mpeg", autoplay=True)
