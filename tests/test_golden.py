"""Today's behaviour, pinned before the code moves: the event LSTM's notes and a share link.

``tests/golden/default_model.json`` was written by the code of the commit that added
this file, before the redesign of keys, encodings, architectures and settings: the
notes of ``generate(default, GenerateConfig(seed=7, length=64))`` and the share
parameters of a config that sets many kinds of setting.  Moving code must leave both equal.

The model was the shipped default then; the default is now the four-voice model and
this one ships as ``lstm``, so a link made then (it names "default" and this model's
hash) must still open this model's take.
"""

import json

import pytest

from neurotunes.bundle import load_bundle
from neurotunes.config import GenerateConfig
from neurotunes.generate import generate
from neurotunes.errors import BadModel
from neurotunes.share import parse_share_params, share_params, take_from_link
from tests.conftest import ROOT

GOLDEN = json.loads((ROOT / "tests" / "golden" / "default_model.json").read_text())


@pytest.fixture(scope="module")
def default():
    bundle = load_bundle("lstm")
    assert bundle.hash == GOLDEN["model_hash"], "the shipped model changed: regenerate the golden file on purpose"
    return bundle


def test_default_model_seed_7_gives_the_same_64_notes(default):
    score = generate(default, GenerateConfig(seed=7, length=64))
    got = [[n.pitch, round(n.start, 6), round(n.end, 6), n.velocity, n.program] for n in score.notes]
    assert got == GOLDEN["seed7_64_notes"]


def test_a_share_link_made_today_reads_the_same(default):
    config = GenerateConfig.from_dict(GOLDEN["share_config"])
    assert share_params("default", default.hash, config) == GOLDEN["share_params"]
    model, short_hash, parsed = parse_share_params(GOLDEN["share_params"])
    assert (model, short_hash, parsed) == ("default", default.hash[:12], config)


def test_a_link_made_when_the_lstm_was_the_default_still_opens_its_take(default):
    assert load_bundle("default").hash != default.hash  # the default moved on
    model, config = take_from_link(GOLDEN["share_params"])
    assert (model, config) == ("lstm", GenerateConfig.from_dict(GOLDEN["share_config"]))
    with pytest.raises(BadModel, match="another version"):  # a hash no shipped model has is still refused
        take_from_link({**GOLDEN["share_params"], "hash": "0" * 12})
