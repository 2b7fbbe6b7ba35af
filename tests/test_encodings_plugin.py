"""A new encoding is one class registered through the plug-in point, touching no other module.

The toy here writes every note as one ``P<pitch>`` token, a quarter note after the
previous one, and forbids the same pitch twice in a row: small, but it exercises
every part of the interface (vocabulary, encode/decode, facts, its own grammar)
and runs through the registry, a bundle round trip and the sampler.
"""

from typing import Any, Iterable, Mapping

import numpy as np
import pytest

from neurotunes import constants as C
from neurotunes import encodings
from neurotunes.bundle import ModelBundle
from neurotunes.config import GenerateConfig, ModelConfig
from neurotunes.encodings import BOS, Encoding, EncodingConfig, Grammar, Vocabulary, encoding_for, register
from neurotunes.errors import BadConfig, BadModel
from neurotunes.generate import generate
from neurotunes.models import weight_shapes
from neurotunes.score import Note, Score


class PitchOnly(Encoding):
    name = "pitch-only-toy"
    description = "Toy: one token per note pitch, every note a quarter note long"

    def vocabulary(self, scores: Iterable[Score] = ()) -> Vocabulary:
        return Vocabulary([BOS, *(f"P{p}" for p in range(self.config.pitch_low, self.config.pitch_high + 1))])

    def check_vocabulary(self, vocab: Vocabulary) -> None:
        if vocab != self.vocabulary():
            raise BadConfig("not the toy's pitch tokens")

    def encode(self, score: Score, *, bos: bool = True) -> list[str]:
        melody = sorted(score.notes, key=lambda n: (n.start, -n.pitch))
        return ([BOS] if bos else []) + [f"P{n.pitch}" for n in melody if not n.is_drum]

    def decode(self, tokens: Iterable[str], *, tempo_bpm: float = C.DEFAULT_TEMPO_BPM,
               program: int = C.DEFAULT_PROGRAM, velocity: int = C.DEFAULT_VELOCITY,
               metadata: Mapping[str, Any] | None = None) -> Score:
        beat = 60.0 / tempo_bpm
        pitches = [p for t in tokens for p in self.token_pitches(t)]
        notes = tuple(Note(pitch=p, start=i * beat, end=(i + 1) * beat, velocity=velocity, program=program)
                      for i, p in enumerate(pitches))
        return Score(notes=notes, tempo_bpm=tempo_bpm, metadata=dict(metadata or {}))

    def token_pitches(self, token: str) -> tuple[int, ...]:
        return (int(token[1:]),) if token.startswith("P") else ()

    def token_time_steps(self, token: str) -> int:
        return self.steps_per_quarter if token.startswith("P") else 0  # a quarter note per token

    def completes_note(self, token: str) -> bool:
        return token.startswith("P")

    def transpose_token(self, token: str, semitones: int) -> str:
        return f"P{int(token[1:]) + semitones}" if token.startswith("P") else token

    def grammar(self, vocab: Vocabulary, *, max_chord: int = 0) -> "NoRepeat":
        return NoRepeat(vocab)


class NoRepeat(Grammar):
    """Any pitch but the one just played; never BOS."""

    def __init__(self, vocab: Vocabulary):
        self.pitched = np.array([t != BOS for t in vocab.tokens])
        super().__init__(len(vocab))

    def start(self) -> None:
        self.last: int | None = None

    def observe(self, token: int) -> None:
        self.last = token

    def mask(self) -> np.ndarray:
        allowed = self.pitched.copy()
        if self.last is not None:
            allowed[self.last] = False
        return allowed


register(PitchOnly)
TOY = encoding_for(EncodingConfig(name="pitch-only-toy", pitch_low=48, pitch_high=72))


def _melody() -> Score:
    pitches = [60, 62, 64, 65, 67, 65, 64, 62]
    return Score(notes=tuple(Note(pitch=p, start=0.5 * i, end=0.5 * (i + 1)) for i, p in enumerate(pitches)),
                 tempo_bpm=120.0)


def test_the_registry_finds_the_toy_everywhere_a_name_is_asked_for():
    assert encodings.get("pitch-only-toy") is PitchOnly
    assert "pitch-only-toy" in encodings.names()
    assert encodings.descriptions()["pitch-only-toy"].startswith("Toy:")  # what the Dataset page offers
    assert isinstance(TOY, PitchOnly) and TOY.config.pitch_low == 48
    assert EncodingConfig.from_dict(TOY.config.to_dict()) == TOY.config


def test_an_incomplete_or_nameless_encoding_is_refused():
    class Half(Encoding):
        name = "half-toy"
        description = "no decode"

    with pytest.raises(BadConfig, match="does not implement"):
        register(Half)
    with pytest.raises(BadConfig, match="names are"):
        register(type("Shouting", (PitchOnly,), {"name": "SHOUT"}))


def test_toy_vocabulary_round_trip_and_facts():
    vocab = TOY.vocabulary()
    assert len(vocab) == 1 + 25 and vocab.tokens[:2] == ("BOS", "P48")
    melody = _melody()
    tokens = TOY.encode(melody)
    assert tokens[:3] == ["BOS", "P60", "P62"]
    back = TOY.decode(tokens, tempo_bpm=120.0)
    assert [(n.pitch, n.start, n.end) for n in back.notes] == [(n.pitch, n.start, n.end) for n in melody.notes]
    assert TOY.count_notes(tokens) == 8 and TOY.notes_per_token([melody]) == 1.0
    facts = TOY.facts(vocab)
    assert facts.carries_pitch.tolist() == [False] + [True] * 25
    assert not facts.time_shift.any()  # its tokens move time and add a note: nothing for density to reweight
    assert facts.seconds_per_token(120.0)[vocab.index["P60"]] == pytest.approx(0.5)


def test_toy_grammar_masks_and_copies():
    vocab = TOY.vocabulary()
    grammar = TOY.grammar(vocab)
    assert grammar.mask().tolist() == [False] + [True] * 25
    grammar.observe(vocab.index["P60"])
    twin = grammar.copy()
    twin.observe(vocab.index["P62"])
    assert not grammar.mask()[vocab.index["P60"]] and grammar.mask()[vocab.index["P62"]]
    assert twin.mask()[vocab.index["P60"]] and not twin.mask()[vocab.index["P62"]]


def _toy_bundle() -> ModelBundle:
    vocab = TOY.vocabulary()
    model = ModelConfig(arch="lstm", vocab_size=len(vocab), units=8, layers=1, embedding_dim=4, dropout=0.0)
    rng = np.random.default_rng(0)
    weights = tuple(rng.normal(scale=0.5, size=s).astype(np.float32) for s in weight_shapes(model))
    return ModelBundle(model=model, encoding=TOY.config, vocab=vocab, weights=weights, info={"name": "toy"})


def test_a_toy_bundle_saves_loads_and_generates_through_the_plug_in():
    bundle = ModelBundle.load(_toy_bundle().to_zip())  # the reader asks the toy whether the vocabulary fits
    assert bundle.encoding == TOY.config
    score = generate(bundle, GenerateConfig(seed=3, length=20, tempo_bpm=120.0))
    pitches = score.pitch_list()
    assert len(pitches) == 20 and all(48 <= p <= 72 for p in pitches)
    assert all(a != b for a, b in zip(pitches, pitches[1:]))  # the toy's own grammar steered the sampler
    assert [n.start for n in score.notes] == pytest.approx([0.5 * i for i in range(20)])
    primed = generate(bundle, GenerateConfig(seed=3, length=6, tempo_bpm=120.0), primer=_melody())
    assert primed.pitch_list()[:8] == _melody().pitch_list() and len(primed.notes) == 14


def test_a_bundle_whose_vocabulary_does_not_fit_its_encoding_is_refused():
    good = _toy_bundle()
    files = good.to_files()
    strange = Vocabulary(["BOS", *(f"Q{i}" for i in range(25))])
    bad = ModelBundle(model=good.model, encoding=good.encoding, vocab=strange, weights=good.weights, info={"name": "toy"})
    files.update({k: v for k, v in bad.to_files().items() if k in ("bundle.json", "vocab.json")})
    with pytest.raises(BadModel, match="not the toy's pitch tokens"):
        ModelBundle.from_files(files, name="toy.zip")
