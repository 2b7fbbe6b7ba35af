"""The Generate page brings the result to the user: labels, share links in words, the primer's inputs,
"why this note?" in note names and note values, and two takes compared on one time scale.

Pure helpers first (fast), then the page through AppTest (the real library and shipped model underneath).
The real-browser half (scrolling, playing) is tests/test_generate_page_browser.py.
"""

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.config import GenerateConfig
from neurotunes.score import Note, Score
from neurotunes.ui import state
from neurotunes.ui.generate_form import (describe_note, describe_option, note_steps, note_value, number,
                                         settings_in_words, take_label, where_in_bars)
from neurotunes.ui.player import compare_html, roll_html
from tests.conftest import ROOT, make_score, play_along_players

APP = str(ROOT / "app.py")


# --- words -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beats, name", [
    (0.25, "sixteenth note"), (0.5, "eighth note"), (0.75, "dotted eighth note"), (1, "quarter note"),
    (1.5, "dotted quarter note"), (2, "half note"), (3, "dotted half note"), (4, "whole note"),
    (1 / 3, "eighth-note triplet"), (2 / 3, "quarter-note triplet"),
    (1.25, "quarter note tied to a sixteenth note"), (2.5, "half note tied to an eighth note"),
    (0.3, "0.3 beats"),
])
def test_note_values_have_their_musical_names(beats, name):
    assert note_value(beats) == name


def test_short_note_values_and_numbers_read_as_a_musician_writes_them():
    assert note_value(0.5, short=True) == "eighth" and note_value(1.25, short=True) == "quarter + sixteenth"
    assert note_value(1 / 3, short=True) == "eighth triplet"
    assert [number(v) for v in (1, 1.3, 0.85, 1.3000000000000003)] == ["1.0", "1.3", "0.85", "1.3"]


def test_a_take_label_and_its_settings_in_words():
    take = state.Take(5, make_score(), "Bach chorales LSTM", GenerateConfig(temperature=1.3, seed=2, length=200))
    assert take_label(take) == "Take 5 · temp 1.3 · seed 2 · 200 notes"
    words = settings_in_words(GenerateConfig(temperature=1.3, seed=2, top_k=20, scale="major", key=9, program=40,
                                             pitch_low=40, pitch_high=80, transpose=-2))
    assert words == ("temperature 1.3, seed 2, 200 notes, top-k 20, played on Violin, A major scale, "
                     "notes E2 to Ab5, transposed -2 semitones")
    assert settings_in_words(GenerateConfig(), basics=False) == ""  # nothing beyond the label's basics


def test_where_a_note_sits_in_bars_and_beats():
    score = make_score(pitches=(60,) * 12, step=0.25, tempo=120.0)  # eighth notes at 120 BPM
    assert where_in_bars(score, score.notes[0]) == "bar 1, beat 1"
    assert where_in_bars(score, score.notes[3]) == "bar 1, beat 2.5"
    assert where_in_bars(score, score.notes[8]) == "bar 2, beat 1"


# --- why this note: per note, in note names ------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_bundle():
    """The event LSTM: a note is two steps, its pitch and its length."""
    from neurotunes.bundle import load_bundle

    return load_bundle("lstm")


@pytest.mark.parametrize("with_primer", [False, True], ids=["from-silence", "after-a-primer-transposed"])
def test_every_generated_note_is_traced_to_the_steps_that_wrote_it(default_bundle, with_primer):
    from neurotunes.encodings import encoding_for
    from neurotunes.generate import compose

    primer = make_score(pitches=(60, 64, 67, 72), step=0.6, dur=0.55, tempo=100.0) if with_primer else None
    config = GenerateConfig(length=40, seed=3, transpose=2 if with_primer else 0)
    made = compose(default_bundle, config, primer=primer, traced=True)[0]
    encoding = encoding_for(default_bundle.encoding)
    notes = note_steps(made.score, made.trace, encoding)
    primer_notes = made.score.metadata["primer_notes"]
    assert len(notes) == len(made.score) - primer_notes == 40  # one entry per generated note, none missing
    assert sorted(i for n in notes for i in n.notes) == list(range(primer_notes, len(made.score)))
    for note in notes:  # the pitch step names the note's pitch; the length step gives its duration
        played = made.score.notes[note.notes[0]]
        pitch_step, length_step = (made.trace[k] for k in note.steps)
        assert describe_option(encoding, pitch_step.token) == describe_note(made.score, note).split(",")[0]
        value = describe_option(encoding, length_step.token, pitch_token=pitch_step.token)
        assert value == note_value(played.duration / made.score.seconds_per_beat, short=True)
    text = describe_note(made.score, notes[0])
    assert re.fullmatch(r"[A-G][b#]?-?\d, an? [a-z +-]+ note.*, bar \d+, beat [\d.]+", text), text


def test_a_roll_rings_the_note_asked_about_and_compare_shares_one_time_scale():
    short = make_score(pitches=(60, 62, 64), step=0.5, dur=0.5)  # ends at 1.5 s
    long = make_score(pitches=(48, 50, 52, 53, 55, 57, 59, 60), step=0.5, dur=0.5)  # ends at 4 s, lower
    view = roll_html(long, highlight=[3])
    assert '"highlight":[3]' in view and '<audio id="audio"' not in view  # no audio: not a player
    page = compare_html([("Take 1 · temp 1.0", short, b"AAAA", 0), ("Take 2 · temp 1.3", long, b"BBBB", 0)])
    data = json.loads(re.search(r"const D = (\{.*?\});\n", page).group(1))
    assert data["end"] == 4.0 and [lane["end"] for lane in data["lanes"]] == [4.0, 4.0]  # one x range
    assert {(lane["low"], lane["high"]) for lane in data["lanes"]} == {(46, 66)}  # one pitch range
    assert 'id="a0"' in page and 'id="a1"' in page and page.count('id="play"') == 1  # one play button
    assert "Take 2 · temp 1.3" in page and '<audio id="audio"' not in page


# --- the page ------------------------------------------------------------------------------------------------
@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))  # nothing kept from other tests' sessions
    return AppTest.from_file(APP, default_timeout=180)


def _heading(at) -> str:
    return next(h.value for h in at.subheader if h.value.startswith("Take "))


def _scroll_scripts(at) -> list[str]:
    return [h.proto.body for h in at.get("html") if "scrollIntoView" in h.proto.body]


def _link(**settings) -> dict[str, str]:
    from neurotunes.share import share_params
    from neurotunes.ui.cache import shipped_bundle

    return share_params("default", shipped_bundle("default").hash, GenerateConfig(**settings))


@pytest.mark.slow
def test_generate_labels_the_takes_selects_the_new_one_and_scrolls_it_into_view(app):
    at = app.run()
    at.slider(key=state.setting_key("length")).set_value(20)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _heading(at) == "Take 1 · temp 1.0 · seed 0 · 20 notes"
    assert [s for s in _scroll_scripts(at) if '"take-1"' in s]  # brought into view ...
    assert any("Takes: 1" in c.value for c in at.sidebar.caption)  # ... and counted at once
    at.number_input(key=state.TAKES_AT_ONCE).set_value(2)
    at.slider(key=state.setting_key("temperature")).set_value(1.3)
    at.button[0].click().run()
    picker = at.radio(key=state.TAKE_SHOWN)
    assert picker.value == 3 and picker.options[0] == "Take 3 · temp 1.3 · seed 1 · 20 notes"
    assert [s for s in _scroll_scripts(at) if '"take-3"' in s]
    assert any("Takes: 3" in c.value for c in at.sidebar.caption)
    picker.set_value(1).run()  # looking at another take: nothing scrolls
    assert not _scroll_scripts(at) and _heading(at).startswith("Take 1 ·")
    next(b for b in at.button if b.label == "Continue this take").click().run()
    assert at.radio(key=state.TAKE_SHOWN).value == 4
    assert [s for s in _scroll_scripts(at) if '"take-4"' in s]
    assert any(c.value.startswith("Bach chorales, four voices · continues take 1") for c in at.caption)


@pytest.mark.slow
def test_a_share_link_lands_with_a_banner_a_filled_form_and_make_your_own(app):
    app.query_params.update(_link(temperature=1.3, seed=2, length=30, scale="major", key=7))
    at = app.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    banner = next(m.value for m in at.markdown if "Shared with you" in m.value)
    assert "Bach chorales, four voices, temperature 1.3, seed 2, 30 notes, G major scale" in banner
    assert at.slider(key=state.setting_key("temperature")).value == 1.3  # the form holds the link's recipe
    assert at.number_input(key=state.setting_key("seed")).value == 2
    assert at.slider(key=state.setting_key("length")).value == 30
    assert at.selectbox(key=state.setting_key("scale")).value == "major"
    assert at.selectbox(key=state.setting_key("key")).value == 7
    # The link's pitch top-p is the library's default (not named in it): it stands over the model's suggestion.
    assert at.slider(key=state.setting_key("pitch_top_p")).value == 1.0
    assert _heading(at) == "Take 1 · temp 1.3 · seed 2 · 30 notes"
    assert len(play_along_players(at)) == 1  # the take, one click from playing
    assert not _scroll_scripts(at)  # the shared take is on top already
    next(b for b in at.button if b.label == "Make your own").click().run()
    assert not any("Shared with you" in m.value for m in at.markdown)
    assert "model" not in at.query_params  # the link is closed ...
    assert at.slider(key=state.setting_key("temperature")).value == 1.3  # ... the form kept
    assert len(at.session_state[state.TAKES]) == 1
    at.run()
    assert "model" not in at.query_params  # and it stays closed
    next(b for b in at.button if b.label == "Generate").click().run()
    made = at.session_state[state.TAKES][-1]
    assert (made.number, made.config.temperature, made.config.seed, made.config.scale) == (2, 1.3, 2, "major")
    assert made.config.pitch_top_p == 1.0
    assert at.query_params["temperature"] == ["1.3"]  # the new take's own link


@pytest.mark.slow
def test_the_form_starts_from_the_models_suggested_settings_and_keeps_what_the_user_chose(app):
    at = app.run()

    def pitch_top_p():
        return at.slider(key=state.setting_key("pitch_top_p")).value

    model = next(s for s in at.selectbox if s.label == "Model")
    assert model.value == "default" and pitch_top_p() == 0.95  # the four-voice model's suggestion ...
    assert any(c.value.startswith("This model suggests pitch top-p 0.95, the setting at which ") for c in at.caption)  # ... said
    model.set_value("fiddle").run()
    assert pitch_top_p() == 1.0  # the fiddle model suggests nothing: the default again
    assert not any(c.value.startswith("This model suggests") for c in at.caption)
    at.slider(key=state.setting_key("temperature")).set_value(1.2).run()
    next(s for s in at.selectbox if s.label == "Model").set_value("default").run()
    assert pitch_top_p() == 0.95
    assert at.slider(key=state.setting_key("temperature")).value == 1.2  # no model suggests it: left alone
    at.slider(key=state.setting_key("pitch_top_p")).set_value(0.8).run()
    at.slider(key=state.setting_key("length")).set_value(20).run()
    assert pitch_top_p() == 0.8  # the user's choice stays for the model it was made with
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state[state.TAKES][-1].config.pitch_top_p == 0.8
    assert at.query_params["pitch_top_p"] == ["0.8"]  # and its link says so


@pytest.mark.slow
def test_a_link_the_form_cannot_hold_exactly_says_so(app):
    app.query_params.update(_link(temperature=3.0, length=24, density=1.5))  # the CLI's whole range
    at = app.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.slider(key=state.setting_key("temperature")).value == 2.0  # the slider's end
    assert at.slider(key=state.setting_key("length")).value == 20  # the slider's nearest step
    assert at.slider(key=state.setting_key("density")).value == 1.5  # on the grid: exactly the link's
    take = at.session_state[state.TAKES][0]
    assert (take.config.temperature, take.config.length) == (3.0, 24)  # the take is the link's
    assert any("Length (notes), Temperature: the form shows the nearest value it offers" in c.value
               for c in at.caption)


@pytest.mark.slow
def test_the_primer_panel_shows_only_the_chosen_sources_inputs(app):
    at = app.run()
    source = at.radio(key=state.PRIMER_SOURCE)
    assert source.value == "Silence" and not at.main.get("file_uploader")
    assert state.PRIMER_TRANSCRIPTION not in [s.key for s in at.selectbox]
    source.set_value("A MIDI file").run()
    assert [u.label for u in at.main.get("file_uploader")] == ["MIDI primer"]
    at.radio(key=state.PRIMER_SOURCE).set_value("A transcription").run()
    assert not at.main.get("file_uploader")
    assert any("No transcriptions yet" in i.value for i in at.info)
    at.radio(key=state.PRIMER_SOURCE).set_value("A random dataset piece").run()
    assert any("the seed picks the piece" in c.value for c in at.caption)
    assert not at.main.get("file_uploader") and not any("No transcriptions" in i.value for i in at.info)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lstm", "default"], ids=["events", "four-voice-frames"])
def test_why_this_note_speaks_per_note_in_note_names_and_rings_it(app, model):
    app.session_state[state.ACTIVE_MODEL] = model
    at = app.run()
    at.slider(key=state.setting_key("length")).set_value(16)
    at.button[0].click().run()
    take = at.session_state[state.TAKES][0]
    # Closed, the explanation is not worked out at all (no slider, no roll, no charts).
    assert state.take_key("why_note", 1) not in [s.key for s in at.slider] and not _ringed(at)
    at.session_state[state.take_key("why_open", 1)] = True  # the user opens "Why this note?"
    at.run()
    note = at.slider(key=state.take_key("why_note", 1))
    assert (note.min, note.max) == (1, 16)  # one step per note, not per token (the take has 32+ tokens)
    assert len(take.trace) >= 32
    said = next(m.value for m in at.markdown if m.value.startswith("**Note 1 of 16:"))
    assert re.search(r"[A-G][b#]?\d, an? [a-z -]+ note", said), said
    notes = note_steps(take.score, take.trace, _encoding(model))
    assert len(_ringed(at)) == 1 and f'"highlight":[{notes[0].notes[0]}]' in _ringed(at)[0]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")
              if "Which note" in c.proto.spec or "How long" in c.proto.spec]
    assert any(t.startswith("Which note: ") for t in titles)
    # Events choose a length with each note; frames hold a note frame by frame, so there is no one length choice.
    assert any(t.startswith("How long: ") for t in titles) == (model == "lstm")
    assert not any(re.search(r'"(NOTE|DUR|P|H)_\d+"|"[ph] \d+"', c.proto.spec) for c in at.get("plotly_chart"))
    note.set_value(5)
    at.session_state[state.take_key("why_open", 1)] = True  # AppTest does not send an expander's state back
    at.run()
    fifth = next(m.value for m in at.markdown if m.value.startswith("**Note 5 of 16:"))
    assert describe_note(take.score, notes[4]) in fifth
    assert f'"highlight":[{notes[4].notes[0]}]' in _ringed(at)[0]


def _ringed(at) -> list[str]:
    """The rolls without audio that ring a note (the "why this note?" roll)."""
    return [f.proto.srcdoc for f in at.get("iframe")
            if '"highlight":[' in f.proto.srcdoc and '"highlight":[]' not in f.proto.srcdoc]


def _encoding(model: str = "lstm"):
    from neurotunes.bundle import load_bundle
    from neurotunes.encodings import encoding_for

    return encoding_for(load_bundle(model).encoding)


@pytest.mark.slow
def test_two_takes_compare_on_one_time_scale_with_one_play_button(app):
    at = app.run()
    at.slider(key=state.setting_key("length")).set_value(20)
    at.number_input(key=state.TAKES_AT_ONCE).set_value(2)
    at.button[0].click().run()
    assert not [f for f in at.get("iframe") if 'id="a0"' in f.proto.srcdoc]  # asked for, not sent on every run
    at.toggle(key=state.COMPARE).set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    compared = [f.proto.srcdoc for f in at.get("iframe") if 'id="a0"' in f.proto.srcdoc]
    assert len(compared) == 1 and len(play_along_players(at)) == 1  # the take's own player is still one
    page = compared[0]
    assert "Take 2 · temp 1.0 · seed 1 · 20 notes" in page and "Take 1 · temp 1.0 · seed 0 · 20 notes" in page
    takes = at.session_state[state.TAKES]
    data = json.loads(re.search(r"const D = (\{.*?\});\n", page).group(1))
    assert data["end"] == max(t.score.duration for t in takes)
    assert data["lanes"][0]["end"] == data["lanes"][1]["end"] == data["end"]


@pytest.mark.slow
def test_every_generate_control_says_what_it_does(app):
    at = app.run()
    at.slider(key=state.setting_key("length")).set_value(12)
    at.number_input(key=state.TAKES_AT_ONCE).set_value(2)
    at.button[0].click().run()
    at.toggle(key=state.COMPARE).set_value(True).run()
    at.radio(key=state.PRIMER_SOURCE).set_value("A MIDI file").run()
    kinds = ("slider", "select_slider", "number_input", "selectbox", "radio", "toggle", "button",
             "download_button", "text_input", "file_uploader", "button_group")
    controls = [w for kind in kinds for w in at.main.get(kind)]
    assert len(controls) > 30
    # The gallery title: its label says what it is, the Save button beside it explains (a help icon would be a
    # second element labelled "Title" for the browser tests).
    silent = [w.label for w in controls if not (w.proto.help or "").strip() and w.label != "Title"]
    assert not silent, f"controls without a help line: {silent}"
    pitch = at.select_slider(key=state.setting_key("pitch_low"))
    assert "C4" in pitch.help and "MIDI numbers" not in pitch.help.split(";")[0]  # note names first


def test_a_frame_models_options_read_as_notes_held_notes_and_waits():
    frames = _encoding("default")
    assert [describe_option(frames, t) for t in ("P_72", "H_72", "|2")] == ["C5", "hold C5", "wait a sixteenth"]


def test_a_score_with_no_generated_notes_has_nothing_to_explain():
    score = Score(notes=(Note(pitch=60, start=0.0, end=0.5, velocity=90),), metadata={"primer_notes": 1})
    assert note_steps(score, [], _encoding()) == []


@pytest.mark.slow
def test_a_link_to_a_take_this_browser_has_shows_it_without_a_copy_or_a_banner(app):
    """A refresh or another tab of the same browser gets its takes back, and the address bar holds the link of
    the take shown: opening it again shows that take, not a second copy announced as shared."""
    at = app.run()
    at.slider(key=state.setting_key("length")).set_value(20)
    at.number_input(key=state.TAKES_AT_ONCE).set_value(2)
    at.button[0].click().run()
    assert at.radio(key=state.TAKE_SHOWN).value == 2
    at.session_state[state.SHARE_APPLIED] = None  # as a new session would: the link in the bar is opened
    at.query_params.clear()
    at.query_params.update(_link(**at.session_state[state.TAKES][0].config.to_dict()))  # take 1's link
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.number for t in at.session_state[state.TAKES]] == [1, 2]
    assert at.radio(key=state.TAKE_SHOWN).value == 1 and _heading(at).startswith("Take 1 ·")
    assert not any("Shared with you" in m.value for m in at.markdown)


@pytest.mark.slow
def test_rewrite_some_bars_hears_candidates_keeps_one_and_undo_takes_it_back(app):
    from neurotunes.regenerate import bar_count

    at = app.run()
    at.slider(key=state.setting_key("length")).set_value(80)
    at.button[0].click().run()
    [take] = at.session_state[state.TAKES]
    assert not [s for s in at.slider if s.key == state.take_key("rewrite_bars", 1)]  # closed: nothing drawn
    at.session_state[state.take_key("rewrite_open", 1)] = True
    at.run()
    bars = at.slider(key=state.take_key("rewrite_bars", 1))
    assert bars.max == bar_count(take.score) >= 3
    bars.set_value((2, 3))
    at.number_input(key=state.take_key("rewrite_count", 1)).set_value(2)
    at.session_state[state.take_key("rewrite_open", 1)] = True  # (AppTest does not send an expander's state back)
    next(b for b in at.button if b.label == "Write candidates").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    said = [m.value for m in at.markdown if m.value.startswith("**Candidate ")]
    assert len(said) == 2 and said[0].startswith("**Candidate 1** · bars 2-3") and "leads best into bar 4" in said[0]
    assert len(play_along_players(at)) >= 3  # the take's player and one per candidate
    at.session_state[state.take_key("rewrite_open", 1)] = True
    next(b for b in at.button if b.label == "Keep this one").click().run()
    takes = at.session_state[state.TAKES]
    assert [(t.number, t.parent, t.primed) for t in takes] == [(1, None, False), (2, 1, True)]
    assert takes[1].score.metadata["rewritten_bars"] == [2, 3] and takes[1].score != take.score
    assert any("take 1 with bars 2-3 written again" in c.value for c in at.caption)
    at = AppTest.from_file(APP, default_timeout=180)  # (a fresh page: AppTest's tree still held the old slider)
    at.session_state[state.TAKES] = takes
    at.run()
    next(b for b in at.button if b.label == "Undo last change").click().run()
    assert [t.number for t in at.session_state[state.TAKES]] == [1]
