"""Sheet music: Score -> two-staff MusicXML -> Verovio SVG, all offline."""

import pytest

from neurotunes.corpus import notation_to_scores, score_to_musicxml
from neurotunes.errors import DatasetError
from neurotunes.notation import musicxml_to_svg_pages
from neurotunes.score import Note, Score
from tests.conftest import make_score

pytestmark = pytest.mark.slow


def test_musicxml_keeps_pitches_and_rhythm_and_engraves():
    # 120 BPM: 0.5 s = a quarter note.  A melody over a bass note, with a chord.
    notes = [Note(start=i * 0.5, end=i * 0.5 + 0.5, pitch=p) for i, p in enumerate((72, 74, 76, 77))]
    notes += [Note(start=0.0, end=2.0, pitch=48), Note(start=0.0, end=2.0, pitch=55)]
    score = Score(notes=tuple(notes), tempo_bpm=120.0)
    xml = score_to_musicxml(score, title="Test piece")
    assert b"<score-partwise" in xml and b"Test piece" in xml
    back = notation_to_scores(xml, name="back.musicxml")[0]
    assert sorted(n.pitch for n in back.notes) == sorted(n.pitch for n in score.notes)
    assert sorted(round(n.duration / back.seconds_per_beat, 3) for n in back.notes) == [1, 1, 1, 1, 4, 4]
    pages = musicxml_to_svg_pages(xml)
    assert len(pages) == 1 and pages[0].lstrip().startswith("<svg")


def test_a_pickup_and_fermatas_are_engraved_where_the_piece_puts_them():
    # A 3/4 line at 120 BPM starting on beat 3 (two beats of the first bar before it), its fourth note (a half
    # note over the bar line, printed tied) under a fermata.
    beats = [(0, 1, 67), (1, 2, 72), (2, 3, 74), (3, 5, 76), (5, 6, 74)]
    line = tuple(Note(start=a * 0.5, end=b * 0.5, pitch=p) for a, b, p in beats)
    marked = Score(notes=line, tempo_bpm=120.0, time_signature=(3, 4),
                   metadata={"pickup_beats": 2.0, "fermata_beats": [3.0]})
    xml = score_to_musicxml(marked)
    assert xml.count(b"<fermata") == 1
    back = notation_to_scores(xml, name="back.musicxml")[0]
    # The bar lines fall as the pickup says: two beats of rest open the first bar, the fermata moves with it.
    assert back.time_signature == (3, 4) and back.metadata["fermata_beats"] == [5.0]
    assert round(min(n.start for n in back.notes) / back.seconds_per_beat, 3) == 2.0
    assert b"<fermata" not in score_to_musicxml(marked.replace(metadata={}))


def test_engraving_works_outside_the_main_thread():
    """Streamlit runs pages in worker threads; Verovio's fonts must load there too."""
    import threading

    xml = score_to_musicxml(make_score())
    result = []
    worker = threading.Thread(target=lambda: result.append(musicxml_to_svg_pages(xml)))
    worker.start()
    worker.join()
    assert result and result[0][0].lstrip().startswith("<svg")


def test_empty_piece_cannot_be_engraved():
    with pytest.raises(DatasetError, match="no pitched notes"):
        score_to_musicxml(Score())


def test_sheet_music_toggle_in_the_app():
    from streamlit.testing.v1 import AppTest

    from neurotunes.ui import state
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/transcribe.py").run()
    melody = make_score()
    at.session_state[state.TRANSCRIPTIONS] = {"m.wav": state.Transcription("m.wav", b"RIFF", melody)}
    at.run()
    at.toggle(key="tr_m.wav_sheet").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(d.label == "MusicXML" for d in at.get("download_button"))
    assert at.get("image"), "no engraved page"


def test_key_signature_and_spelling_follow_the_key():
    import re

    def accidentals(xml: bytes) -> list[str]:
        return re.findall(r"<accidental>(\w+)</accidental>", xml.decode())

    c_major = make_score(pitches=(60, 62, 64, 65, 67, 69, 71, 72) * 2, step=0.5, dur=0.5).replace(key="C major")
    xml = score_to_musicxml(c_major)
    assert b"<fifths>0</fifths>" in xml and accidentals(xml) == []  # no stray naturals in later bars
    f_major = make_score(pitches=(65, 67, 69, 70, 72, 74, 76, 77) * 2, step=0.5, dur=0.5).replace(key="F major")
    xml = score_to_musicxml(f_major)
    assert b"<fifths>-1</fifths>" in xml and accidentals(xml) == []  # B-flat comes from the key signature
    assert b"<step>B</step>" in xml and b"<step>A</step>\n          <alter>1</alter>" not in xml
    # D minor's leading tone is C-sharp, not D-flat; the back-and-forth survives a round trip.
    d_minor = make_score(pitches=(62, 61, 62, 64, 65, 64, 62, 61, 62), step=0.5, dur=0.5).replace(key="d minor")
    xml = score_to_musicxml(d_minor)
    assert b"<fifths>-1</fifths>" in xml and "sharp" in accidentals(xml) and "flat" not in accidentals(xml)
    back = notation_to_scores(xml, name="back.musicxml")[0]
    assert [n.pitch for n in back.notes] == [n.pitch for n in d_minor.notes]
