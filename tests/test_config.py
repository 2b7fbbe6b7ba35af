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
