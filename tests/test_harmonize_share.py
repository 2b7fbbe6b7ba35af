"""Share links for harmonizations: the melody packed into the address and back, the link's limits and checks,
the same chorale from the link (directly and on the Harmonize page), and a tampered link as a message."""

import base64
import random
import zlib
from urllib.parse import parse_qsl, urlsplit

import pytest

from neurotunes.bundle import load_bundle
from neurotunes.config import GenerateConfig
from neurotunes.errors import BadConfig, BadModel
from neurotunes.harmonize import MAX_MELODY_SECONDS, harmonize
from neurotunes.keys import Key
from neurotunes.score import Note, Score
from neurotunes.share import (MAX_LINK_NOTES, MAX_MELODY_CHARS, GridMelody, decode_melody, encode_melody,
                              harmonization_from_link, harmonization_params, is_harmonization_link,
                              parse_harmonization_params, parse_share_params, share_params)
from tests.conftest import ROOT, make_score

PAGE = str(ROOT / "app_pages" / "harmonize.py")
HASH = "0123456789abcdef0123"


def _random_melody(rng: random.Random) -> GridMelody:
    notes, end = [], 0
    for _ in range(rng.randint(1, 60)):
        onset = end + rng.choice([0, 0, 0, 1, 3, 200])
        duration = rng.choice([1, 2, 4, 7, 16, 130])
        notes.append((onset, duration, rng.randint(0, 127)))
        end = onset + duration
    end = notes[-1][0] + notes[-1][1]
    meter = (rng.randint(1, 12), rng.choice([2, 4, 8]))
    fermatas = tuple(sorted(rng.sample(range(end), min(end, rng.choice([0, 0, 1, 5])))))
    return GridMelody(tuple(notes), rng.randint(1, 24), meter, rng.choice([0, 0, 3, 12]), fermatas)


def _pack(raw: bytes) -> str:
    """Bytes packed the way a link packs a melody (for links no honest encoder makes)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.urlsafe_b64encode(packer.compress(raw) + packer.flush()).rstrip(b"=").decode()


def _params(**changes) -> dict[str, str]:
    melody = GridMelody(((0, 4, 67), (4, 2, 69), (6, 2, 71), (8, 8, 72)), 4)
    params = harmonization_params("default", HASH, melody, 3, 0.8, 120.0, key=Key(7, "major"))
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def test_a_melody_packs_and_unpacks_unchanged():
    rng = random.Random(17)
    for _ in range(400):
        melody = _random_melody(rng)
        text = encode_melody(melody)
        assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert decode_melody(text) == melody
    # Compact: three minutes of eighth notes (720 notes) in well under a thousand characters.
    eighths = GridMelody(tuple((2 * i, 2, rng.randint(60, 79)) for i in range(720)), 4)
    assert len(encode_melody(eighths)) < 1000 and decode_melody(encode_melody(eighths)) == eighths


def test_a_link_round_trips_every_part():
    rng = random.Random(5)
    for _ in range(200):
        melody = GridMelody(tuple((2 * i, 2, rng.randint(55, 84)) for i in range(rng.randint(1, 50))), 4)
        seed, temperature = rng.randint(0, 2**31 - 1), rng.uniform(0.05, 5.0)
        tempo = rng.uniform(40.0, 200.0)
        key = rng.choice([None, Key(rng.randint(0, 11), rng.choice(["major", "minor"]))])
        params = harmonization_params("default", HASH, melody, seed, temperature, tempo, key=key)
        assert is_harmonization_link(params) and all(isinstance(v, str) for v in params.values())
        link = parse_harmonization_params(params)
        assert (link.model, link.model_hash, link.melody, link.seed) == ("default", HASH[:12], melody, seed)
        assert (link.temperature, link.tempo_bpm, link.key) == (temperature, tempo, key)  # exact floats


def test_the_melody_score_is_on_the_grid_the_harmonizer_sings():
    melody = GridMelody(((0, 4, 67), (6, 2, 69)), 4)
    score = melody.to_score(90.0, key=Key(2, "minor"))
    step = 60.0 / 90.0 / 4
    assert [(n.start, n.end, n.pitch) for n in score.notes] == [(0.0, 4 * step, 67), (6 * step, 8 * step, 69)]
    assert score.key == Key(2, "minor") and score.tempo_bpm == 90.0
    assert GridMelody.from_score(score, 4) == melody
    # A chord and a low octave: the harmonizer's line (top notes, moved into the soprano's range, gap held).
    tune = Score(notes=(Note(0.0, 0.5, 43), Note(0.0, 0.5, 36), Note(0.5, 1.0, 45), Note(1.5, 2.0, 47)))
    assert GridMelody.of_melody(tune, 4).notes == ((0, 4, 67), (4, 8, 69), (12, 4, 71))


def test_a_link_of_a_shipped_model_harmonizes_the_same_chorale():
    bundle = load_bundle("default")
    rng = random.Random(3)
    for trial in range(12):
        pitches = [rng.randint(40, 90) for _ in range(rng.randint(2, 16))]
        tune = make_score(pitches=pitches, step=rng.choice([0.25, 0.5, 0.7]), dur=rng.choice([0.2, 0.5, 0.9]),
                          tempo=rng.choice([72.0, 100.0, 131.5]))
        if trial % 2:
            tune = tune.replace(key=Key(rng.randint(0, 11), "minor"))
        seed, temperature = rng.randint(0, 10**6), rng.choice([0.5, 0.85, 1.3])
        made = harmonize(bundle, tune, seed=seed, temperature=temperature)
        params = harmonization_params("default", bundle.hash, GridMelody.of_melody(tune, 4), seed, temperature,
                                      made.score.tempo_bpm, key=made.score.key)
        link = harmonization_from_link(params)
        again = harmonize(bundle, link.melody_score(), seed=link.seed, temperature=link.temperature)
        assert again.score.notes == made.score.notes and again.voices == made.voices
        assert again.score.key == made.score.key


def test_a_melody_keeps_its_meter_pickup_and_fermatas_through_a_link_and_old_links_open_in_four_four():
    line = Score(notes=tuple(Note(start=a * 0.5, end=b * 0.5, pitch=p)
                             for a, b, p in [(0, 1, 67), (1, 2, 72), (2, 3, 74), (3, 5, 76), (5, 6, 74)]),
                 tempo_bpm=120.0, time_signature=(3, 4), metadata={"pickup_beats": 2.0, "fermata_beats": [3.0]})
    melody = GridMelody.of_melody(line, 4)
    assert (melody.time_signature, melody.pickup, melody.fermatas) == ((3, 4), 8, (12,))
    params = harmonization_params("default", HASH, melody, 3, 0.8, 120.0)
    back = parse_harmonization_params(params).melody_score()
    assert back.time_signature == (3, 4)
    assert dict(back.metadata) == {"pickup_beats": 2.0, "fermata_beats": [3.0]}
    # A link made before the meter was packed (format 1: grid, then the notes) opens as before, in 4/4.
    old = decode_melody(_pack(bytes([1, 4, 0, 4, 67, 0, 4, 69])))
    assert old == GridMelody(((0, 4, 67), (4, 4, 69)), 4)
    assert old.to_score(120.0).time_signature == (4, 4) and not old.to_score(120.0).metadata


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"harmonize": "evil"}, "unknown model"),
        ({"harmonize": None}, "unknown model"),
        ({"hash": "<script>"}, "hash is malformed"),
        ({"melody": "not*base64!"}, "characters a packed melody never has"),
        ({"melody": "A"}, "damaged"),
        ({"melody": "AAAA"}, "damaged"),
        ({"melody": "Y2RhYHEGI1cGFncGFg8w6QoWcQ"}, "damaged"),  # a real melody cut short
        ({"melody": None}, "no melody"),
        ({"melody": "A" * (MAX_MELODY_CHARS + 1)}, "too long"),
        ({"melody": _pack(bytes([1, 4]) + bytes([0, 1, 60]) * (MAX_LINK_NOTES + 1))}, "more than 2000 notes"),
        ({"melody": _pack(bytes([1, 4]) + bytes([0, 1, 200 & 0x7F | 0x80, 1]))}, "pitch 200, outside MIDI's 0-127"),
        ({"melody": _pack(bytes([3, 4, 0, 1, 60]))}, "format"),
        ({"melody": _pack(bytes([2, 4, 3, 3, 0, 0, 0, 1, 60]))}, "time signature"),
        ({"melody": _pack(bytes([2, 4, 3, 4, 0, 1, 9, 0, 4, 60]))}, "after its last note ends"),
        ({"melody": _pack(bytes([2, 4, 3, 4, 0, 2, 1, 0, 0, 4, 60]))}, "each once, in order"),
        ({"melody": _pack(bytes([2, 4, 3, 4, 0, 0x80 | 0x7F, 0x7F, 0, 4, 60]))}, "damaged"),
        ({"melody": _pack(bytes([1, 99, 0, 1, 60]))}, "grid"),
        ({"melody": _pack(bytes([1, 4]))}, "no notes"),
        ({"melody": _pack(bytes([1, 4, 0, 1]))}, "damaged"),
        ({"melody": _pack(bytes([1, 4, 0, 0, 60]))}, "lasts 0 steps"),
        ({"seed": "-1"}, "seed must be"),
        ({"seed": "99999999999"}, "seed must be"),
        ({"temperature": "nan"}, "temperature is not a number"),
        ({"temperature": "9"}, "temperature must be"),
        ({"tempo": "-120"}, "tempo must be"),
        ({"key": "13m"}, "key is malformed"),
        ({"__class__": "x"}, "unknown part"),
        ({"seed": "1" * 500}, "too long"),
    ],
)
def test_tampered_links_are_refused_with_a_reason(changes, message):
    with pytest.raises(BadConfig, match=message):
        parse_harmonization_params(_params(**changes))


def test_a_link_holds_no_more_than_the_harmonizer_sings():
    too_long = GridMelody(((0, int(MAX_MELODY_SECONDS) * 4 + 4, 67),), 4)  # at 60 BPM: a step is 0.25 s
    with pytest.raises(BadConfig, match=f"lasts 181 s: a link holds at most {MAX_MELODY_SECONDS:.0f} s"):
        harmonization_params("default", HASH, too_long, 0, 0.8, 60.0)
    with pytest.raises(BadConfig, match="lasts 181 s"):
        parse_harmonization_params(_params(tempo="60.0", melody=encode_melody(too_long)))
    just = GridMelody(((0, int(MAX_MELODY_SECONDS) * 4, 67),), 4)
    assert parse_harmonization_params(_params(tempo="60.0", melody=encode_melody(just))).melody == just
    many = GridMelody(tuple((i, 1, 60 + i % 12) for i in range(MAX_LINK_NOTES + 1)), 4)
    with pytest.raises(BadConfig, match=f"{MAX_LINK_NOTES + 1} notes: a link holds at most {MAX_LINK_NOTES}"):
        harmonization_params("default", HASH, many, 0, 0.8, 400.0)
    with pytest.raises(BadConfig, match="shipped model"):
        harmonization_params("My model", HASH, just, 0, 0.8, 60.0)


@pytest.mark.parametrize(
    "notes, message",
    [
        (((-1, 2, 60),), "negative time"),
        (((0, 2, 128),), "pitch 128"),
        (((0, 2, -3),), "pitch -3"),
        (((0, 0, 60),), "lasts 0 steps"),
        (((0, 4, 60), (2, 2, 62)), "before the note before it ends"),
        (((0, 2.5, 60),), "whole steps"),
        ((), "no notes"),
    ],
)
def test_a_melody_that_is_not_a_line_on_the_grid_is_refused(notes, message):
    with pytest.raises(BadConfig, match=message):
        GridMelody(notes, 4)


def test_a_link_is_checked_against_the_model_here():
    bundle = load_bundle("default")
    melody = GridMelody(((0, 4, 67), (4, 4, 69)), 4)
    assert harmonization_from_link(harmonization_params("default", bundle.hash, melody, 1, 0.8, 120.0)).seed == 1
    with pytest.raises(BadModel, match="another version of this model"):
        harmonization_from_link(harmonization_params("default", "f" * 64, melody, 1, 0.8, 120.0))
    with pytest.raises(BadConfig, match="grid of 2 steps to a quarter note; the model Bach chorales, four voices "
                                        r"\(shipped\) writes 4"):
        harmonization_from_link(harmonization_params("default", bundle.hash, GridMelody(melody.notes, 2), 1, 0.8,
                                                     120.0))
    with pytest.raises(BadConfig, match="cannot harmonize"):
        harmonization_from_link(harmonization_params("lstm", "0" * 64, melody, 1, 0.8, 120.0))
    # A link made when this model was called "chorale" opens it under its name today.
    old = {**harmonization_params("default", bundle.hash, melody, 1, 0.8, 120.0), "harmonize": "chorale"}
    assert harmonization_from_link(old).model == "default"


def test_take_links_and_harmonization_links_stay_apart():
    take = share_params("default", "0123456789abcdef", GenerateConfig(seed=5))
    assert not is_harmonization_link(take) and not is_harmonization_link({})
    assert parse_share_params(take)[0] == "default"  # unchanged
    with pytest.raises(BadConfig, match="unknown model"):
        parse_share_params(_params())  # a harmonization's link is no take's
    with pytest.raises(BadConfig, match="unknown model"):
        parse_harmonization_params(take)


# --- the page ----------------------------------------------------------------------------------------------------
def _link_of(at) -> dict[str, str]:
    codes = [c.value for c in at.code if "harmonize=" in c.value]
    assert len(codes) == 1, [c.value for c in at.code]
    assert any("Share link" in c.value for c in at.caption)
    return dict(parse_qsl(urlsplit(codes[0]).query, strict_parsing=True))


@pytest.mark.slow
def test_a_harmonization_link_opens_the_same_chorale_with_a_banner(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from neurotunes.ui import state

    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    tune = make_score(pitches=(67, 67, 69, 71, 72, 71, 69, 67, 66, 67), step=0.5, dur=0.5, tempo=120.0)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.TAKES] = [state.Take(1, tune, "Bach chorales", GenerateConfig(seed=1),
                                                model_key="default")]
    at.run()
    assert not at.code  # nothing harmonized yet: no link
    at.radio(key=state.HARMONIZE_SOURCE).set_value("A take")
    at.number_input(key=state.HARMONIZE_SEED).set_value(5)
    at.slider(key=state.HARMONIZE_TEMPERATURE).set_value(0.9)
    at.run()
    next(b for b in at.button if b.label == "Harmonize").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, made = at.session_state[state.CHORALE]
    params = _link_of(at)
    assert (params["harmonize"], params["seed"], params["temperature"]) == ("default", "5", "0.9")
    assert not any("Shared with you" in m.value for m in at.markdown)  # one's own chorale: no banner

    visitor = AppTest.from_file(PAGE, default_timeout=120)
    visitor.query_params.update(params)
    visitor.run()
    assert not visitor.exception and not visitor.error, [e.value for e in visitor.error]
    name, shared = visitor.session_state[state.CHORALE]
    assert name == "the shared melody"
    assert shared.score.notes == made.score.notes and shared.voices == made.voices
    assert shared.score == made.score  # its share link (in its metadata) too
    assert len(shared.score.notes) > len(tune.notes)  # four voices, not the melody alone
    banner = next(m.value for m in visitor.markdown if "Shared with you" in m.value)
    assert "Bach chorales, four voices" in banner and "seed 5" in banner and "temperature 0.9" in banner
    # The melody and the settings are restored: harmonizing again makes the same chorale.
    assert visitor.radio(key=state.HARMONIZE_SOURCE).value == "The shared melody"
    assert visitor.number_input(key=state.HARMONIZE_SEED).value == 5
    assert visitor.slider(key=state.HARMONIZE_TEMPERATURE).value == 0.9
    assert [n.pitch for n in shared.voice("Soprano").notes] == list(tune.pitch_list())
    assert _link_of(visitor) == params
    visitor.run()  # a rerun does not open the link again
    assert visitor.session_state[state.CHORALE][1].score.notes == made.score.notes

    # Make your own: the banner and the address go, the melody and settings stay.
    next(b for b in visitor.button if b.label == "Make your own").click().run()
    assert not any("Shared with you" in m.value for m in visitor.markdown)
    assert "harmonize" not in visitor.query_params
    assert visitor.radio(key=state.HARMONIZE_SOURCE).value == "The shared melody"
    visitor.number_input(key=state.HARMONIZE_SEED).set_value(6).run()
    next(b for b in visitor.button if b.label == "Harmonize").click().run()
    assert not visitor.error, [e.value for e in visitor.error]
    _, mine = visitor.session_state[state.CHORALE]
    assert [n.pitch for n in mine.voice("Soprano").notes] == list(tune.pitch_list())
    assert _link_of(visitor)["seed"] == "6" and _link_of(visitor)["melody"] == params["melody"]


@pytest.mark.slow
def test_a_tampered_harmonization_link_is_a_message_and_the_page_stays_usable(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from neurotunes.ui import state

    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update(_params(melody=_pack(bytes([1, 4, 0, 1, 200 & 0x7F | 0x80, 1]))))
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Could not open the shared link: the melody's note 1 has pitch 200, "
                                           "outside MIDI's 0-127"]
    assert state.CHORALE not in at.session_state
    assert "The shared melody" not in at.radio(key=state.HARMONIZE_SOURCE).options
    assert not next(b for b in at.button if b.label == "Harmonize").disabled
    at.run()  # said once, not on every rerun
    assert not at.error


@pytest.mark.slow
def test_the_last_harmonization_comes_back_after_a_refresh(monkeypatch, tmp_path):
    """Kept on the server like takes (neurotunes/ui/persist.py): a new session of the same browser (the same
    visitor secret) gets the chorale back, with its share link; another browser does not."""
    from streamlit.runtime.context import ContextProxy, StreamlitCookies
    from streamlit.testing.v1 import AppTest

    from neurotunes.ui import persist, state
    from neurotunes.ui.visitor import COOKIE

    secret = {"value": "Kp4" * 14 + "-"}
    monkeypatch.setenv("NEUROTUNES_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ContextProxy, "cookies", property(lambda self: StreamlitCookies({COOKIE: secret["value"]})))

    def load() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
        at.switch_page("app_pages/harmonize.py")
        at.run()
        assert not at.exception, at.exception
        return at

    tune = make_score(pitches=(60, 62, 64, 65, 67, 65, 64, 62, 60), step=0.5, dur=0.5, tempo=100.0)
    at = load()
    assert state.CHORALE not in at.session_state
    at.session_state[state.TAKES] = [state.Take(1, tune, "Bach chorales", GenerateConfig(seed=1),
                                                model_key="default")]
    at.radio(key=state.HARMONIZE_SOURCE).set_value("A take")
    at.number_input(key=state.HARMONIZE_SEED).set_value(11)
    at.run()
    next(b for b in at.button if b.label == "Harmonize").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    name, made = at.session_state[state.CHORALE]
    link = _link_of(at)
    assert len(list((persist.folder_for(secret["value"]) / "chorale").glob("*.json"))) == 1

    again = load()  # F5: a new session with the same cookie
    name_again, chorale = again.session_state[state.CHORALE]
    assert name_again == name == "take 1"
    assert chorale.score == made.score and chorale.voices == made.voices and chorale.messages == made.messages
    assert any(h.value == "take 1, harmonized" for h in again.subheader)
    assert _link_of(again) == link and link["seed"] == "11"

    secret["value"] = "Zz9" * 14 + "_"  # another browser
    other = load()
    assert state.CHORALE not in other.session_state
    assert any("Choose a melody and press" in i.value for i in other.info)
