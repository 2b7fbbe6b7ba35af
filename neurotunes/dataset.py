"""Build, augment and split datasets of Scores, and turn them into training arrays."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from . import constants as C
from .corpus import CORPORA, NOTATION_SUFFIXES, held_out_sources, load_corpus, notation_to_scores
from .encodings import EncodingConfig, Vocabulary, encoding_for
from .errors import DatasetError, NeuroTunesError
from .keys import piece_key
from .midi_io import midi_to_score
from .records import DatasetStats
from .score import Score
from .text import printable_name

#: Caps on uploaded archives: a zip bomb or a folder of 10,000 files is refused with a message.
MAX_ZIP_FILES = 2000
MAX_ZIP_TOTAL_MB = 200
MIDI_SUFFIXES = (".mid", ".midi")
SKIPPED_ZIP_PREFIXES = ("__MACOSX/", ".")
#: Names listed in one message before "and N more".
MAX_NAMES_SHOWN = 5


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(printable_name(n) for n in names[:MAX_NAMES_SHOWN])
    return shown + (f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else "")


def _unsafe_member(filename: str) -> bool:
    """An entry that would land outside the folder it is unpacked into: absolute, a drive, or going up."""
    path = filename.replace("\\", "/")
    return path.startswith("/") or (len(path) > 1 and path[1] == ":") or ".." in path.split("/")


def supported_suffixes() -> tuple[str, ...]:
    return (*MIDI_SUFFIXES, *NOTATION_SUFFIXES, ".zip")


def scores_from_file(name: str, data: bytes) -> list[Score]:
    """One uploaded file (MIDI, MusicXML, ABC) as Scores.

    Raises
    ------
    NeuroTunesError
        Unsupported, empty or broken file; the message names it.
    """
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix in MIDI_SUFFIXES:
        return [midi_to_score(data, name=name)]
    if suffix in NOTATION_SUFFIXES:
        return notation_to_scores(data, name=name)
    raise DatasetError(f"{name}: unsupported file type; use {', '.join(supported_suffixes())}")


def scores_from_files(files: Sequence[tuple[str, bytes]], errors: list[str] | None = None) -> list[Score]:
    """Uploaded files (and .zip archives of them) as Scores; bad files are skipped with a message.

    Parameters
    ----------
    files
        ``(name, bytes)`` pairs.
    errors
        Receives one message per skipped file or archive.
    """
    errors = errors if errors is not None else []
    scores: list[Score] = []
    for name, data in files:
        if not name.lower().endswith(".zip"):
            try:
                scores += scores_from_file(printable_name(name), data)
            except NeuroTunesError as exc:
                errors.append(str(exc))
            continue
        name = printable_name(name)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                entries = [i for i in zf.infolist() if not i.is_dir()]
                # Nothing is unpacked to disk, but a name like ../x.mid is a crafted archive: keep it out, say so.
                unsafe = [i.filename for i in entries if _unsafe_member(i.filename)]
                if unsafe:
                    errors.append(f"{name}: skipped {len(unsafe)} {'entry' if len(unsafe) == 1 else 'entries'} "
                                  f"with unsafe paths: {_names(unsafe)}")
                members = [
                    i for i in entries
                    if not _unsafe_member(i.filename) and not i.filename.startswith(SKIPPED_ZIP_PREFIXES)
                    and "/." not in i.filename
                ]
                if not members:
                    if not unsafe:
                        errors.append(f"{name} is an empty archive")
                    continue
                if len(members) > MAX_ZIP_FILES:
                    errors.append(f"{name} holds {len(members):,} files; at most {MAX_ZIP_FILES:,} per archive")
                    continue
                if sum(i.file_size for i in members) > MAX_ZIP_TOTAL_MB * 1024 * 1024:
                    errors.append(f"{name} unpacks to more than {MAX_ZIP_TOTAL_MB} MB")
                    continue
                nested = [i.filename for i in members if i.filename.lower().endswith(".zip")]
                if nested:
                    errors.append(f"{name}: archives inside an archive are not opened ({_names(nested)}); "
                                  "unpack them and upload their files")
                usable = [i for i in members if i.filename.lower().endswith(supported_suffixes()[:-1])]
                if not usable and not nested:
                    errors.append(f"{name} holds no MIDI, MusicXML or ABC files")
                for info in usable:
                    member = f"{name}/{printable_name(info.filename)}"
                    if info.file_size > C.MAX_UPLOAD_MB * 1024 * 1024:  # refused before it is unpacked into memory
                        errors.append(f"{member} unpacks to {info.file_size / 1e6:,.0f} MB; "
                                      f"files over {C.MAX_UPLOAD_MB} MB are refused")
                        continue
                    try:
                        scores += scores_from_file(member, zf.read(info))
                    except NeuroTunesError as exc:
                        errors.append(str(exc))
                    # zipfile raises RuntimeError for encrypted members and NotImplementedError for
                    # compression methods it lacks: both are a bad upload, not a bug of ours.
                    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
                        errors.append(f"{member}: unreadable in the archive ({exc})")
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            errors.append(f"{name} is not a valid .zip archive ({exc})")
    return scores


@dataclass(frozen=True)
class Dataset:
    """Pieces split by piece (no piece is in both), plus how they were chosen."""

    train: tuple[Score, ...]
    validation: tuple[Score, ...]
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    description: str = ""
    key_normalized: bool = False  # every piece was moved to C major / A minor

    def stats(self) -> DatasetStats:
        """Counts for the pages and the model's config."""
        encoding = encoding_for(self.encoding)
        vocab = encoding.vocabulary(self.train + self.validation)
        tokens = [len(encoding.encode(s)) for s in self.train + self.validation]
        return DatasetStats(
            pieces_train=len(self.train),
            pieces_validation=len(self.validation),
            notes=sum(len(s) for s in self.train + self.validation),
            tokens=int(sum(tokens)),
            vocabulary_size=len(vocab),
            description=self.description,
            key_normalized=self.key_normalized,
        )

    def histograms(self) -> dict[str, dict[Any, int]]:
        """Pitch, duration (in grid steps) and key counts over all pieces, for plots."""
        pitches: dict[int, int] = {}
        durations: dict[int, int] = {}
        keys: dict[str, int] = {}
        for s in self.train + self.validation:
            step = s.seconds_per_beat / self.encoding.steps_per_quarter
            for n in s.notes:
                pitches[n.pitch] = pitches.get(n.pitch, 0) + 1
                d = int(min(max(round(n.duration / step), 1), self.encoding.max_duration))
                durations[d] = durations.get(d, 0) + 1
            key = piece_key(s)
            label = key.name if key else "unknown"
            keys[label] = keys.get(label, 0) + 1
        return {"pitch": dict(sorted(pitches.items())), "duration_steps": dict(sorted(durations.items())),
                "key": dict(sorted(keys.items(), key=lambda kv: -kv[1]))}


def split_dataset(
    scores: Sequence[Score],
    *,
    validation_fraction: float = 0.1,
    seed: int = 0,
    encoding: EncodingConfig | None = None,
    description: str = "",
    key_normalization: bool = False,
    tempo_normalization: bool = False,
) -> Dataset:
    """Shuffle pieces with ``seed`` and hold out a fraction of them for validation.

    With two or more pieces and a fraction above 0, at least one piece is held out.
    Normalization (to C major / A minor; to the tempo estimated from a recording)
    happens before the split, so both sides see the same treatment.
    """
    scores = [s.without_drums() for s in scores]
    scores = [s for s in scores if len(s)]
    if tempo_normalization:
        scores = [normalize_tempo(s) for s in scores]
    if key_normalization:
        scores = [normalize_key(s) for s in scores]
    if not scores:
        raise DatasetError("the dataset has no pieces with pitched notes")
    order = np.random.default_rng(seed).permutation(len(scores))
    n_val = int(round(len(scores) * validation_fraction))
    if validation_fraction > 0 and len(scores) >= 2:
        n_val = min(max(n_val, 1), len(scores) - 1)
    val = tuple(scores[i] for i in sorted(order[:n_val]))
    train = tuple(scores[i] for i in sorted(order[n_val:]))
    return Dataset(train=train, validation=val, encoding=encoding or EncodingConfig(), description=description,
                   key_normalized=key_normalization)


def build_dataset(
    *,
    accepted: Sequence[Score] = (),
    files: Sequence[tuple[str, bytes]] = (),
    corpora: Sequence[str] = (),
    per_corpus: int = 60,
    skipped: list[str] | None = None,
    corpus_progress: Callable[[str, int, int], None] | None = None,
    validation_fraction: float = 0.1,
    key_normalization: bool = False,
    tempo_normalization: bool = False,
    encoding: EncodingConfig | None = None,
) -> Dataset:
    """Gather pieces from every source and split them: what the Dataset page builds.

    Parameters
    ----------
    accepted
        Pieces already checked by the user (accepted transcriptions).
    files
        ``(name, bytes)`` of MIDI, MusicXML, ABC or .zip files (see :func:`scores_from_files`).
    corpora, per_corpus
        music21 corpora (keys of :data:`~neurotunes.corpus.CORPORA`) and how many pieces of each.
    skipped
        Receives one message per file that could not be read; the others are used.
    corpus_progress
        ``(corpus key, pieces read, pieces wanted)`` after each piece of a corpus (an Essen collection
        counts tune by tune from its first tune on).
    validation_fraction, key_normalization, tempo_normalization, encoding
        As in :func:`split_dataset`.

    Raises
    ------
    DatasetError
        No source gave a piece.
    """
    skipped = skipped if skipped is not None else []
    scores: list[Score] = list(accepted)
    parts = [f"{len(accepted)} transcriptions"] if accepted else []
    if files:
        got = scores_from_files(files, skipped)
        scores += got
        parts.append(f"{len(got)} uploaded pieces")
    for key in corpora:
        progress = (lambda i, n, k=key: corpus_progress(k, i, n)) if corpus_progress else None
        got = load_corpus(key, limit=per_corpus, errors=skipped, progress=progress)
        scores += got
        parts.append(f"{len(got)} from {CORPORA[key].title}")
    if not scores:
        raise DatasetError(f"none of the chosen sources could be read ({len(skipped)} file(s) skipped, each "
                           "listed with its reason)" if skipped else "choose at least one source with music in it")
    return split_dataset(scores, validation_fraction=validation_fraction, key_normalization=key_normalization,
                         tempo_normalization=tempo_normalization, description=", ".join(parts), encoding=encoding)


def normalize_key(score: Score) -> Score:
    """Transpose to C major or A minor (by the smaller shift, :meth:`Key.shift_to_reference`), using the
    piece's key or an estimate; a piece without a key to find is returned as it is."""
    key = piece_key(score)
    if key is None:
        return score
    shift = key.shift_to_reference()
    return score.transpose(shift).replace(key=key.transpose(shift))


def normalize_tempo(score: Score) -> Score:
    """Use the tempo estimated from a recording (if any) as the piece's beat, so the grid fits it."""
    estimated = score.metadata.get("estimated_tempo_bpm")
    return score.replace(tempo_bpm=float(estimated)) if estimated else score


def augment_transpose(scores: Sequence[Score], semitones: int) -> list[Score]:
    """Every piece transposed by each shift in ``-semitones..+semitones`` (0 included)."""
    if semitones == 0:
        return list(scores)
    return [s.transpose(k) for s in scores for k in range(-semitones, semitones + 1)]


def token_stream(scores: Sequence[Score], encoding: EncodingConfig, vocab: Vocabulary) -> np.ndarray:
    """All pieces' token ids back to back, each piece opening with BOS."""
    parts = [vocab.encode(encoding_for(encoding).encode(s)) for s in scores]
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


#: The split every shipped model was trained with (scripts/train_shipped.py) and the Evaluate page's reference
#: sets are held out by: pieces shuffled with this seed, this share held out.
REFERENCE_SPLIT_SEED = 0
REFERENCE_VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class CorpusRecipe:
    """A dataset to build from a music21 corpus where it is used: in a training process, not the app's server.

    Parsing chorales with music21 holds Python's global lock for seconds on a first
    run (no parse cache yet): done in the server, it froze every other user's page.

    With ``skip_held_out`` the pieces come from the training side of the reference
    split (:data:`REFERENCE_SPLIT_SEED`, :data:`REFERENCE_VALIDATION_FRACTION`; the list is
    shipped, :func:`~neurotunes.corpus.held_out_sources`), so a model trained on them, or fine-tuned from a shipped model, is still judged on music
    it never saw.  ``encoding`` is the encoding to train with (a fine-tuned model keeps
    its own).
    """

    corpus: str
    limit: int
    validation_fraction: float = 0.1
    key_normalization: bool = False
    seed: int = 0
    skip_held_out: bool = False
    encoding: EncodingConfig = field(default_factory=EncodingConfig)

    def build(self, progress: Callable[[int, int], None] | None = None) -> "Dataset":
        """Read the corpus (``progress(done, total)`` per piece) and split it like the Dataset page does."""
        report = None if progress is None else (lambda done, _: progress(min(done, self.limit), self.limit))
        exclude = held_out_sources(self.corpus) if self.skip_held_out else frozenset()
        scores = load_corpus(self.corpus, limit=self.limit, exclude=exclude, progress=report)
        what = f"{len(scores)} pieces from {CORPORA[self.corpus].title}"
        if exclude:
            what += " (none of the Evaluate page's held-out ones)"
        return split_dataset(scores, validation_fraction=self.validation_fraction, seed=self.seed,
                             key_normalization=self.key_normalization, encoding=self.encoding, description=what)

    def to_dict(self) -> dict[str, Any]:
        return {**{f: getattr(self, f) for f in self.__dataclass_fields__ if f != "encoding"},
                "encoding": self.encoding.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CorpusRecipe":
        return cls(**{**data, "encoding": EncodingConfig.from_dict(data.get("encoding", {}))})
