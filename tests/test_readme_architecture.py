"""README's "Architecture" section is executable: its three plug-ins run as written, then work together.

The code blocks of that section (a toy encoding, a toy architecture, a new setting)
are run in order, as a reader would paste them.  Then, with nothing else added, the
toy architecture trains for one epoch on the toy encoding of a few pieces, goes
through a bundle file, and generates; the new setting passes the CLI and share links.
"""

import argparse
import re

import pytest

from tests.conftest import ROOT, make_score

pytestmark = pytest.mark.slow


def _section_code() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def plugins() -> dict:
    blocks = _section_code()
    assert len(blocks) == 3, "an encoding, an architecture and a setting"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # the README's own text, nothing user-supplied
    return namespace


def test_the_toy_encoding_and_architecture_train_and_generate_together(plugins, tmp_path):
    from neurotunes import encodings, models
    from neurotunes.bundle import ModelBundle
    from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig
    from neurotunes.dataset import split_dataset
    from neurotunes.encodings import EncodingConfig
    from neurotunes.generate import generate
    from neurotunes.training import train

    assert "melody" in encodings.names() and "bag" in models.names()
    pieces = [make_score(pitches=tuple(60 + (i * k) % 12 for i in range(24)), step=0.25, dur=0.25)
              for k in range(1, 7)]
    dataset = split_dataset(pieces, validation_fraction=0.2, seed=0, encoding=EncodingConfig(name="melody"))
    result = train(dataset, ModelConfig(arch="bag", units=16, embedding_dim=8, layers=1, dropout=0.0),
                   TrainConfig(epochs=1, batch_size=4, sequence_length=16, patience=0), name="readme toy")
    bundle = ModelBundle.load(result.bundle.save(tmp_path / "toy"))
    assert bundle.hash == result.bundle.hash and bundle.encoding.name == "melody" and bundle.model.arch == "bag"
    take = generate(bundle, GenerateConfig(length=16, seed=1))
    assert len(take) == 16 and take == generate(bundle, GenerateConfig(length=16, seed=1))
    starts = [n.start for n in take.notes]
    assert starts == sorted(starts) and len(set(starts)) == 16  # the toy writes one quarter note after another


def test_the_new_setting_reaches_validation_cli_and_links(plugins):
    from neurotunes.cli import add_setting_options, settings_from_args
    from neurotunes.errors import BadConfig
    from neurotunes.share import parse_share_params, share_params

    echo = plugins["EchoConfig"]
    with pytest.raises(BadConfig, match="echo must be a number from 0 to 1, got 2"):
        echo(echo=2)
    parser = argparse.ArgumentParser()
    add_setting_options(parser, echo)
    assert settings_from_args(echo, parser.parse_args(["--echo", "0.5"])) == echo(echo=0.5)
    params = share_params("default", "0123456789ab", echo(echo=0.5))
    assert params["echo"] == "0.5" and parse_share_params(params, config_type=echo)[2] == echo(echo=0.5)
