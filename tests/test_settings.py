"""Settings are declared once: validation, the CLI, the Generate page and share links all follow the declaration.

The toy below is the whole recipe for a new sampling setting: one field made with
``setting(...)``.  Nothing else is edited, and it is checked, offered as a CLI option,
drawn on the page and carried by a share link.
"""

import argparse
from dataclasses import dataclass

import pytest
from streamlit.testing.v1 import AppTest

from neurotunes.cli import add_setting_options, build_parser, settings_from_args
from neurotunes.config import GenerateConfig, settings_of, setting
from neurotunes.errors import BadConfig
from neurotunes.share import parse_share_params, share_params
from neurotunes.ui import state
from tests.conftest import ROOT


@dataclass(frozen=True)
class EchoConfig(GenerateConfig):
    """GenerateConfig plus one new setting: the README's worked example."""

    echo: float = setting(0.0, 0.0, 1.0, step=0.1, label="Echo", help="How loud each note's echo is.",
                          page="sampling")


def test_a_new_setting_is_one_field():
    with pytest.raises(BadConfig, match="echo must be a number from 0 to 1, got 2"):
        EchoConfig(echo=2)

    parser = argparse.ArgumentParser()
    add_setting_options(parser, EchoConfig)
    assert settings_from_args(EchoConfig, parser.parse_args(["--echo", "0.5", "--seed", "3"])) == \
        EchoConfig(echo=0.5, seed=3)

    params = share_params("default", "0123456789ab", EchoConfig(echo=0.5))
    assert params["echo"] == "0.5"
    assert parse_share_params(params, config_type=EchoConfig)[2] == EchoConfig(echo=0.5)


def _echo_page():
    import streamlit as st

    from neurotunes.ui.widgets import setting_widgets
    from tests.test_settings import EchoConfig

    st.session_state["chosen"] = EchoConfig(**setting_widgets(EchoConfig, "sampling"))


def test_a_new_setting_appears_on_the_page():
    at = AppTest.from_function(_echo_page, default_timeout=30).run()
    assert not at.exception
    echo = at.slider(key=state.setting_key("echo"))
    assert echo.label == "Echo" and echo.help == "How loud each note's echo is."
    echo.set_value(0.7).run()
    # (the page script imports the test module anew: compare values, not classes)
    assert at.session_state["chosen"].to_dict() == EchoConfig(echo=0.7).to_dict()


def _other_value(about, default):
    """A valid value unlike the default: an end of the range the page offers (or another choice)."""
    if about.choices:
        return next(c for c in reversed(about.choices) if c != default)
    low, high = about.page_range
    return about.kind(high if high != default else low)


SETTINGS = list(settings_of(GenerateConfig))


def test_every_generate_field_is_a_declared_setting_with_a_sane_page_range():
    from dataclasses import fields

    assert [f.name for f in fields(GenerateConfig)] == [name for name, _, _ in SETTINGS]
    for name, about, default in SETTINGS:
        assert about.label and about.help, name
        about.check(name, default)
        if about.low is not None:
            low, high = about.page_range
            assert about.low <= low <= high <= about.high, name  # the page offers a part of the range
            # ... around the default, except a two-ended widget's: its whole span means "no limit", the default
            assert low <= default <= high or about.widget in ("pitch range", "paired"), name
            about.check(name, about.kind(low) if not about.low_open else about.kind(high))


@pytest.mark.parametrize("name, about, default", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_every_generate_setting_is_a_cli_option_and_rides_in_a_share_link(name, about, default):
    value = _other_value(about, default)
    flag = about.cli or "--" + name.replace("_", "-")
    args = build_parser().parse_args(["generate", "-o", "x.mid", flag, str(value)])
    assert getattr(settings_from_args(GenerateConfig, args), name) == value
    config = GenerateConfig(**{name: value})
    params = share_params("default", "0123456789ab", config)
    assert params[name] == str(value)
    assert parse_share_params(params)[2] == config


@pytest.mark.slow
def test_every_generate_setting_has_a_widget_on_the_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    for name, about, _ in SETTINGS:
        drawn = name
        if about.widget == "paired":  # drawn by the two-ended widget that names it as its pair
            drawn = next(n for n, a, _ in SETTINGS if a.pair == name)
        assert state.setting_key(drawn) in at.session_state, name
    # A whole-range pitch slider means "no limit", so a link from the page stays short.
    at.slider(key=state.setting_key("length")).set_value(20)
    at.select_slider(key=state.setting_key("pitch_low")).set_value((40, 90))
    at.button[0].click().run()
    config = at.session_state[state.TAKES][0].config
    assert (config.pitch_low, config.pitch_high) == (40, 90)
