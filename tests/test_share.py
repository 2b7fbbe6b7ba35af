"""Share links: a take as query parameters, and back; tampered links are messages."""

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.bundle import load_bundle
from neurotunes.config import GenerateConfig
from neurotunes.errors import BadConfig
from neurotunes.generate import generate
from neurotunes.share import parse_share_params, share_params
from neurotunes.ui import state
from tests.conftest import ROOT


def test_round_trip_keeps_only_non_defaults():
    cfg = GenerateConfig(seed=5, temperature=0.8, scale="major", key=7, length=40)
    params = share_params("default", "0123456789abcdef", cfg)
    assert params == {"model": "default", "hash": "0123456789ab", "length": "40", "temperature": "0.8",
                      "seed": "5", "scale": "major", "key": "7"}
    assert parse_share_params(params) == ("default", "0123456789ab", cfg)
    with pytest.raises(BadConfig, match="shipped model"):
        share_params("My model (abc123)", "0" * 64, cfg)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"model": "evil", "hash": "0" * 12}, "unknown model"),
        ({"model": "default", "hash": "<script>"}, "malformed"),
        ({"model": "default", "hash": "0" * 12, "seed": "abc"}, "not a number"),
        ({"model": "default", "hash": "0" * 12, "length": "99999"}, "length"),
        ({"model": "default", "hash": "0" * 12, "temperature": "nan"}, "temperature"),
        ({"model": "default", "hash": "0" * 12, "__class__": "x"}, "unknown setting"),
        ({"model": "default", "hash": "0" * 12, "scale": "x" * 500}, "too long"),
    ],
)
def test_tampered_links_are_refused_with_a_reason(params, message):
    with pytest.raises(BadConfig, match=message):
        parse_share_params(params)


@pytest.mark.slow
def test_opening_a_link_regenerates_the_identical_take():
    bundle = load_bundle("default")
    cfg = GenerateConfig(seed=7, length=30, temperature=0.9)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in share_params("default", bundle.hash, cfg).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    takes = at.session_state[state.TAKES]
    assert len(takes) == 1
    assert takes[0].score.notes == generate(bundle, cfg).notes
    assert any("Share link" in c.value for c in at.caption)
    at.run()  # a rerun does not generate the same link again
    assert len(at.session_state[state.TAKES]) == 1


@pytest.mark.slow
def test_a_link_for_another_model_version_is_a_message():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"model": "default", "hash": "0123456789ab", "seed": "3"})
    at.run()
    assert not at.exception
    assert any("another version of this model" in e.value for e in at.error)
    assert not at.session_state[state.TAKES]


def test_a_link_is_checked_against_the_model_here():
    from neurotunes.errors import BadModel
    from neurotunes.share import take_from_link

    bundle = load_bundle("default")
    cfg = GenerateConfig(seed=4, length=12)
    assert take_from_link(share_params("default", bundle.hash, cfg)) == ("default", cfg)
    with pytest.raises(BadModel, match="another version of this model"):
        take_from_link(share_params("default", "f" * 64, cfg))


def test_a_recipe_regenerates_its_piece_and_names_what_is_wrong():
    from neurotunes.errors import NeuroTunesError
    from neurotunes.generate import RECIPE_KEY
    from neurotunes.share import recipe_from_score

    bundle = load_bundle("default")
    made = generate(bundle, GenerateConfig(seed=9, length=16))
    recipe = recipe_from_score(made)  # no model named: found among the shipped ones by its hash
    assert recipe.bundle.hash == bundle.hash and recipe.primer is None
    assert generate(recipe.bundle, recipe.config, primer=recipe.primer).notes == made.notes
    with pytest.raises(NeuroTunesError, match="take.mid carries no NeuroTunes recipe"):
        recipe_from_score(made.replace(metadata={}), source="take.mid")
    damaged = {**made.metadata[RECIPE_KEY], "settings": {"length": 0}}
    with pytest.raises(NeuroTunesError, match="damaged recipe: length must be"):
        recipe_from_score(made.replace(metadata={RECIPE_KEY: damaged}))
    with pytest.raises(NeuroTunesError, match="made with another model"):
        recipe_from_score(made, model="fiddle")
    foreign = {**made.metadata[RECIPE_KEY], "model_hash": "0" * 64, "model_name": "mine"}
    with pytest.raises(NeuroTunesError, match=r"model \(mine\) is not shipped"):
        recipe_from_score(made.replace(metadata={RECIPE_KEY: foreign}))
