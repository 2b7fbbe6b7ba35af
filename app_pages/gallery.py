"""Gallery: tracks saved by everyone using this NeuroTunes, to play, download and delete."""

import datetime

import streamlit as st

from neurotunes.ui.widgets import guarded, slug

st.title("Gallery")
st.caption("Tracks saved from the Generate page. Everyone using this NeuroTunes sees the same gallery.")

from neurotunes import gallery  # noqa: E402  - sqlite3 only; imported after the title so it paints first

tracks = guarded(gallery.list_tracks, what="Could not open the gallery") or []
if not tracks:
    st.info("Nothing saved yet: generate a take and press **Save to gallery**.", icon=":material/library_music:")
for track in tracks:
    with st.container(border=True):
        when = datetime.datetime.fromtimestamp(track.created).strftime("%Y-%m-%d %H:%M")
        st.text(track.title)  # plain text: a title is never rendered as Markdown or HTML
        st.caption(f"{track.notes} notes · {track.seconds:.1f} s · {track.model} · saved {when}")
        files = guarded(lambda t=track: gallery.track_files(t.id), what="Could not read the track")
        if files is None:
            continue
        midi, audio = files
        st.audio(audio, format="audio/mpeg")
        c1, c2, c3, _ = st.columns([1, 1, 1, 3])
        stem = slug(track.title)
        c1.download_button("MIDI", midi, file_name=f"{stem}.mid", mime="audio/midi", key=f"g_mid_{track.id}",
                           icon=":material/download:")
        c2.download_button("MP3", audio, file_name=f"{stem}.mp3", mime="audio/mpeg", key=f"g_mp3_{track.id}",
                           icon=":material/download:")
        if c3.button("Delete", key=f"g_del_{track.id}", icon=":material/delete:"):
            gallery.delete_track(track.id)
            st.rerun()
