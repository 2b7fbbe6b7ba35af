"""The Harmonize page (AppTest): a take's tune becomes a chorale on four staves; without a model that can
harmonize, the page says what it needs."""

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.config import GenerateConfig
from neurotunes.harmonize import VOICES
from neurotunes.ui import state
from tests.conftest import ROOT, make_score

pytestmark = pytest.mark.slow
PAGE = str(ROOT / "app_pages" / "harmonize.py")
MODEL = "My chorale model"


@pytest.fixture
def app(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    return AppTest.from_file(PAGE, default_timeout=120)


def _take() -> state.Take:
    tune = make_score(pitches=(67, 67, 69, 71, 72, 71, 69, 67, 66, 67), step=0.5, dur=0.5, tempo=120.0)
    return state.Take(1, tune, "Bach chorales", GenerateConfig(seed=1), model_key="lstm")


def test_a_take_becomes_a_chorale_on_four_staves(app, frame_bundle):
    app.session_state[state.TRAINED_MODELS] = {MODEL: frame_bundle}
    app.session_state[state.TAKES] = [_take()]
    at = app.run()
    at.radio(key=state.HARMONIZE_SOURCE).set_value("A take").run()
    assert at.selectbox(key=state.HARMONIZE_MODEL).value == "default"  # the shipped one first
    at.selectbox(key=state.HARMONIZE_MODEL).set_value(MODEL).run()
    next(b for b in at.button if b.label == "Harmonize").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    name, chorale = at.session_state[state.CHORALE]
    assert name == "take 1" and [n.pitch for n in chorale.voice("Soprano").notes] == list(_take().score.pitch_list())
    assert any(h.value == "take 1, harmonized" for h in at.subheader)
    at.toggle(key="hz_score_sheet").set_value(True).run()
    assert not at.error, [e.value for e in at.error]
    assert at.get("imgs") or at.get("image")  # the engraved pages
    xml = next(d for d in at.get("download_button") if d.proto.label == "MusicXML")
    assert xml is not None


def test_the_shipped_chorale_model_harmonizes_and_a_missing_melody_is_said_plainly(app, monkeypatch):
    at = app.run()
    assert not at.exception
    assert at.selectbox(key=state.HARMONIZE_MODEL).options == ["Bach chorales, four voices (shipped)"]
    next(b for b in at.button if b.label == "Harmonize").click().run()
    assert any("choose a melody first" in e.value for e in at.error)
    at.radio(key=state.HARMONIZE_SOURCE).set_value("A take").run()
    assert any("No takes yet" in i.value for i in at.info)


def test_without_a_model_that_can_harmonize_the_page_says_what_it_needs(app, monkeypatch):
    import neurotunes.constants as C

    monkeypatch.setattr(C, "HARMONIZING_MODELS", ())
    at = app.run()
    assert not at.exception
    assert any("No model here can harmonize" in w.value for w in at.warning)
