"""Build, augment and split datasets of Scores, and turn them into training arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .encoding import EncodingConfig, Vocabulary, count_notes, score_to_tokens
from .errors import DatasetError
from .score import Score


@dataclass(frozen=True)
class Dataset:
    """Pieces split by piece (no piece is in both), plus how they were chosen."""

    train: tuple[Score, ...]
    validation: tuple[Score, ...]
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    description: str = ""

    def stats(self) -> dict[str, Any]:
        vocab = Vocabulary.for_encoding(self.encoding)
        tokens = [len(score_to_tokens(s, self.encoding)) for s in self.train + self.validation]
        return {
            "pieces_train": len(self.train),
            "pieces_validation": len(self.validation),
            "notes": sum(len(s) for s in self.train + self.validation),
            "tokens": int(sum(tokens)),
            "vocabulary_size": len(vocab),
            "description": self.description,
        }


def split_dataset(
    scores: Sequence[Score],
    *,
    validation_fraction: float = 0.1,
    seed: int = 0,
    encoding: EncodingConfig | None = None,
    description: str = "",
) -> Dataset:
    """Shuffle pieces with ``seed`` and hold out a fraction of them for validation.

    With two or more pieces and a fraction above 0, at least one piece is held out.
    """
    scores = [s for s in scores if len(s.without_drums())]
    if not scores:
        raise DatasetError("the dataset has no pieces with pitched notes")
    order = np.random.default_rng(seed).permutation(len(scores))
    n_val = int(round(len(scores) * validation_fraction))
    if validation_fraction > 0 and len(scores) >= 2:
        n_val = min(max(n_val, 1), len(scores) - 1)
    val = tuple(scores[i] for i in sorted(order[:n_val]))
    train = tuple(scores[i] for i in sorted(order[n_val:]))
    return Dataset(train=train, validation=val, encoding=encoding or EncodingConfig(), description=description)


def augment_transpose(scores: Sequence[Score], semitones: int) -> list[Score]:
    """Every piece transposed by each shift in ``-semitones..+semitones`` (0 included)."""
    if semitones == 0:
        return list(scores)
    return [s.transpose(k) for s in scores for k in range(-semitones, semitones + 1)]


def token_stream(scores: Sequence[Score], encoding: EncodingConfig, vocab: Vocabulary) -> np.ndarray:
    """All pieces' token ids back to back, each piece opening with BOS."""
    parts = [vocab.encode(score_to_tokens(s, encoding)) for s in scores]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def make_windows(stream: np.ndarray, sequence_length: int, *, what: str = "training") -> tuple[np.ndarray, np.ndarray]:
    """Cut a token stream into ``(inputs, targets)`` chunks with a target at every step.

    Chunks of ``sequence_length + 1`` tokens overlap by one token, so every token
    but the first is a target exactly once.
    """
    n = (len(stream) - 1) // sequence_length
    if n < 1:
        raise DatasetError(
            f"the {what} data has {len(stream)} tokens, fewer than one sequence of {sequence_length + 1}; "
            "add pieces or lower the sequence length"
        )
    idx = np.arange(n)[:, None] * sequence_length + np.arange(sequence_length + 1)[None, :]
    windows = stream[idx]
    return windows[:, :-1].copy(), windows[:, 1:].copy()


def notes_per_token(scores: Sequence[Score], encoding: EncodingConfig) -> float:
    """Notes divided by tokens: converts a per-token NLL into NLL per note."""
    tokens = [score_to_tokens(s, encoding) for s in scores]
    n_tokens = sum(len(t) - 1 for t in tokens)  # BOS is never a target
    return sum(count_notes(t) for t in tokens) / max(n_tokens, 1)
