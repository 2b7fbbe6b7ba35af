import pytest

from neurotunes.config import GenerateConfig, ModelConfig, TrainConfig, TranscribeConfig
from neurotunes.errors import BadConfig


@pytest.mark.parametrize("cls", [GenerateConfig, ModelConfig, TrainConfig, TranscribeConfig])
def test_defaults_round_trip(cls):
    c = cls()
    assert cls.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: GenerateConfig(length=0), "length"),
        (lambda: GenerateConfig(top_p=0), "top_p"),
        (lambda: GenerateConfig(temperature=0), "temperature"),
        (lambda: GenerateConfig(length=10**6), "length"),
        (lambda: ModelConfig(arch="transformer9000"), "unknown architecture"),
        (lambda: ModelConfig(units=True), "units"),
        (lambda: TrainConfig(epochs=0), "epochs"),
        (lambda: TranscribeConfig(onset_threshold=2), "onset_threshold"),
        (lambda: TranscribeConfig(minimum_frequency=500, maximum_frequency=100), "below"),
        (lambda: GenerateConfig.from_dict({"lenght": 3}), "unknown"),
        (lambda: GenerateConfig.from_dict([1, 2]), "object"),
    ],
)
def test_bad_values_are_named(factory, message):
    with pytest.raises(BadConfig, match=message):
        factory()


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: TrainConfig(lr_schedule="sometimes"), "lr_schedule must be one of constant, plateau, cosine"),
        (lambda: TrainConfig(strategy="all"), "strategy must be one of default, mirrored"),
        (lambda: TrainConfig(seed=2**31), "seed must be a whole number from 0 to 2147483647"),
        (lambda: TranscribeConfig(minimum_frequency=0), "minimum_frequency must be a number from 1 to 20000"),
        (lambda: GenerateConfig(top_p=1.5), "top_p must be above 0 and at most 1, got 1.5"),
        (lambda: GenerateConfig(tempo_bpm=5), "tempo_bpm must be a number from 10 to 400"),  # the Score's range
        (lambda: GenerateConfig(pitch_low=70, pitch_high=60), "lowest pitch .70. is above the highest .60."),
        (lambda: ModelConfig(dropout=0.95), "dropout must be a number from 0 to 0.9"),
    ],
)
def test_declared_ranges_and_choices_are_enforced(factory, message):
    with pytest.raises(BadConfig, match=message):
        factory()


def test_optional_settings_take_none_and_share_links_spell_values_back():
    from neurotunes.config import PostProcessConfig, settings_of

    assert PostProcessConfig(tempo_bpm=None).tempo_bpm is None
    about = {name: a for name, a, _ in settings_of(GenerateConfig)}
    assert about["top_k"].parse("top_k", "40") == 40 and about["scale"].parse("scale", "dorian") == "dorian"
    with pytest.raises(BadConfig, match="top_k is not a number, or not a whole one: '4.5'"):
        about["top_k"].parse("top_k", "4.5")
    assert GenerateConfig(scale="major", key=2, beam_width=3, transpose=-2).summary() == \
        "temperature 1.0 · seed 0 · 200 notes · beam 3 · major on D · transposed -2"
