"""Musical and model metrics.

Per piece (:func:`piece_features`): pitch-class histogram (relative to the
estimated tonic), pitch range, interval histogram, inter-onset-interval
histogram, note density, polyphony, in-scale ratio, on-grid ratio (rhythmic
consistency), collapse figures and harmonic progression (the share of chords
music21's roman-numeral analysis reads as diatonic triads or sevenths in the key).

Per set (:func:`compare_sets`): the method of Yang & Lerch (2018), "On the
evaluation of generative models in music": for each feature, the distances
between the real pieces (intra-set) and between generated and real pieces
(inter-set) are smoothed into densities; their overlapping area (1 = the
generated pieces sit among the real ones as the real ones sit among
themselves) and the KL divergence of intra from inter tell how close the two
sets are.

Per model (:func:`model_metrics`): validation NLL per note, perplexity and
next-note pitch accuracy.

Features measured "in the key" use :func:`neurotunes.keys.estimate` (Krumhansl &
Kessler's profiles on duration-weighted pitch classes, NumPy only).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .encodings import encoding_for
from .errors import BadConfig
from .generate import single_threaded_blas
from .keys import Key, estimate, pitch_class_histogram
from .models import make_stepper
from .score import Score


def model_metrics(bundle, scores, *, max_tokens: int = 200_000) -> dict[str, float]:
    """Validation figures of a model on held-out pieces, comparable across encodings.

    * ``nll_per_note``: the sum of token negative log-likelihoods (nats) divided by
      the number of notes, so encodings with more tokens per note are not favoured.
    * ``nll_per_onset``: the same sum divided by the number of distinct onsets (a
      chord counts once): Classical-Piano-Composer's "note", one token per chord.
    * ``pitch_nll_per_note``: only the tokens that carry pitches (event ``NOTE_p``;
      every classic token), per note: what pitch costs, without rhythm.
    * ``perplexity_per_token``: exp of the mean token NLL.
    * ``pitch_accuracy``: at every step whose target carries a pitch (an event
      ``NOTE_p`` or a classic note/chord token), whether the most likely of those
      tokens is the right one.

    Runs the model one token at a time with its state carried (the same
    stepper that generates, :func:`~neurotunes.models.make_stepper`), state reset per piece.
    """
    with single_threaded_blas():
        return _model_metrics(bundle, scores, max_tokens)


def _model_metrics(bundle, scores, max_tokens: int) -> dict[str, float]:
    encoding, vocab = encoding_for(bundle.encoding), bundle.vocab
    pitched = encoding.facts(vocab).carries_pitch
    stepper = make_stepper(bundle)
    nll, pitch_nll, steps, notes, onsets, hits, pitch_steps = 0.0, 0.0, 0, 0, 0, 0, 0
    for score in scores:
        ids = vocab.encode(encoding.encode(score), skip_unknown=True)
        notes += encoding.count_notes(vocab.decode(ids))
        onsets += len({round(n.start, 4) for n in score.notes if not n.is_drum})
        stepper.reset()
        for current, target in zip(ids[:-1], ids[1:]):
            logits = stepper.step(int(current)).astype(np.float64)
            logits -= logits.max()
            log_probs = logits - np.log(np.exp(logits).sum())
            nll -= log_probs[target]
            steps += 1
            if pitched[target]:
                pitch_nll -= log_probs[target]
                pitch_steps += 1
                hits += int(np.argmax(np.where(pitched, log_probs, -np.inf)) == target)
        if steps >= max_tokens:
            break
    if not steps:
        raise ValueError("no tokens to evaluate: the pieces are empty or outside the model's vocabulary")
    return {
        "nll_per_note": nll / max(notes, 1),
        "nll_per_onset": nll / max(onsets, 1),
        "pitch_nll_per_note": pitch_nll / max(notes, 1),
        "perplexity_per_token": float(np.exp(nll / steps)),
        "pitch_accuracy": hits / max(pitch_steps, 1),
        "tokens": steps,
        "notes": notes,
        "onsets": onsets,
    }


#: A take counts as collapsed when one pitch repeats this many times in a row ...
COLLAPSE_RUN = 16
#: ... or one pitch is more than this share of all notes.
COLLAPSE_SHARE = 0.5


def repetition_stats(score: Score) -> dict[str, float | int | bool]:
    """Collapse figures: the longest run of one repeated pitch (in time order), the share of
    the most common pitch, and whether either crosses the collapse thresholds."""
    pitches = score.pitch_list()
    if not pitches:
        return {"longest_run": 0, "top_pitch_share": 0.0, "distinct_pitches": 0, "collapsed": False}
    longest = run = 1
    for a, b in zip(pitches, pitches[1:]):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    counts = np.bincount(pitches, minlength=128)
    share = float(counts.max() / len(pitches))
    return {
        "longest_run": longest,
        "top_pitch_share": round(share, 3),
        "distinct_pitches": int((counts > 0).sum()),
        "collapsed": longest >= COLLAPSE_RUN or share > COLLAPSE_SHARE,
    }


# --- per-piece features ------------------------------------------------------
INTERVAL_LIMIT = 12  # interval histogram: -12..+12 semitones, larger leaps folded into the end bins
IOI_STEP_BEATS = 0.25  # inter-onset intervals binned on the 1/16 grid ...
IOI_MAX_BEATS = 4.0  # ... up to a whole 4/4 bar; longer gaps share the last bin
GRID_BEATS = 1.0  # on-grid ratio: onsets on the beat (quarter notes): where a metre puts its weight
GRID_TOLERANCE_BEATS = 1 / 32
MIN_CHORD_PITCH_CLASSES = 3

#: The eight features compared between sets (issue 8's distribution metrics), in display order.
DISTRIBUTION_FEATURES = ("pitch_class_histogram", "pitch_range", "interval_histogram", "ioi_histogram",
                         "note_density", "polyphony", "in_scale_ratio", "on_grid_ratio")
FEATURE_LABELS = {
    "pitch_class_histogram": "pitch-class histogram (from the tonic)",
    "pitch_range": "pitch range (semitones)",
    "interval_histogram": "melodic interval histogram",
    "ioi_histogram": "inter-onset interval histogram",
    "note_density": "note density (notes per beat)",
    "polyphony": "polyphony (notes sounding together)",
    "in_scale_ratio": "in-scale ratio",
    "on_grid_ratio": "on-beat ratio (rhythmic consistency)",
    "harmonic_progression": "diatonic chord share (harmony)",
    "longest_run": "longest run of one pitch",
    "top_pitch_share": "share of the commonest pitch",
}


def _onsets(score: Score) -> list[tuple[float, list[int]]]:
    """Distinct onset times (seconds) with the pitches starting there, in time order."""
    groups: dict[float, list[int]] = {}
    for n in score.notes:
        if not n.is_drum:
            groups.setdefault(round(n.start, 6), []).append(n.pitch)
    return sorted(groups.items())


def tonic_relative_histogram(score: Score) -> np.ndarray:
    """Duration-weighted pitch-class histogram rotated so index 0 is the estimated tonic.

    Pieces in different keys compare by function (tonic, dominant, ...), not by
    absolute pitch class; a model trained in C and a chorale in E-flat are judged alike.
    """
    hist = pitch_class_histogram(score)
    key = estimate(score)
    return np.roll(hist, -key.tonic) if key else hist


def interval_histogram(score: Score) -> np.ndarray:
    """Share of each melodic interval (-12..+12 semitones) of the top line: the highest note sounding at each
    onset, so an inner voice moving under a held melody note is not mistaken for a leap."""
    tops = [max(pitches) for pitches in _sounding_pitches(score)]
    hist = np.zeros(2 * INTERVAL_LIMIT + 1)
    for a, b in zip(tops, tops[1:]):
        hist[int(np.clip(b - a, -INTERVAL_LIMIT, INTERVAL_LIMIT)) + INTERVAL_LIMIT] += 1
    total = hist.sum()
    return hist / total if total else hist


def ioi_histogram(score: Score) -> np.ndarray:
    """Share of each inter-onset interval in beats, on the 1/16 grid up to a bar (longer ones in the last bin)."""
    times = [t / score.seconds_per_beat for t, _ in _onsets(score)]
    bins = int(IOI_MAX_BEATS / IOI_STEP_BEATS)
    hist = np.zeros(bins)
    for a, b in zip(times, times[1:]):
        hist[int(np.clip(round((b - a) / IOI_STEP_BEATS), 1, bins)) - 1] += 1
    total = hist.sum()
    return hist / total if total else hist


def polyphony(score: Score) -> float:
    """Average number of notes sounding together, over the time at least one sounds."""
    events = sorted([(n.start, 1) for n in score.notes if not n.is_drum]
                    + [(n.end, -1) for n in score.notes if not n.is_drum])
    sounding, last, weighted, busy = 0, 0.0, 0.0, 0.0
    for t, change in events:
        if sounding:
            weighted += sounding * (t - last)
            busy += t - last
        sounding += change
        last = t
    return weighted / busy if busy else 0.0


def in_scale_ratio(score: Score) -> float:
    """Share of notes whose pitch class belongs to the estimated key (minor: natural, harmonic, melodic)."""
    key = estimate(score)
    pitches = score.pitch_list()
    if key is None or not pitches:
        return 0.0
    return float(np.mean([(p - key.tonic) % 12 in key.scale_steps for p in pitches]))


def on_grid_ratio(score: Score, grid_beats: float = GRID_BEATS) -> float:
    """Share of onsets that fall on the grid (by default the beat), within 1/32 of a beat."""
    times = [t / score.seconds_per_beat for t, _ in _onsets(score)]
    if not times:
        return 0.0
    off = [abs(t / grid_beats - round(t / grid_beats)) * grid_beats for t in times]
    return float(np.mean([o <= GRID_TOLERANCE_BEATS for o in off]))


def harmonic_progression(score: Score) -> float | None:
    """Share of chords (onsets where 3+ pitch classes sound) that music21 reads as diatonic roman numerals.

    A chord counts when it is a triad or seventh chord (any inversion), its root
    is a degree of the estimated key (no altered root such as bII) and every
    note is in the key (minor: natural, harmonic or melodic).  ``None`` when the
    piece has no such chords at all (a melody).
    """
    key = estimate(score)
    if key is None:
        return None
    chords = [pcs for pcs in _sounding_pitch_classes(score) if len(pcs) >= MIN_CHORD_PITCH_CLASSES]
    good = sum(_is_diatonic_chord(pcs, key) for pcs in chords)
    total = len(chords)
    return good / total if total else None


@functools.lru_cache(maxsize=8192)  # music21's analysis is slow; pieces in one key share their chords
def _is_diatonic_chord(pcs: frozenset[int], key: Key) -> bool:
    """Whether pitch classes ``pcs`` form a diatonic triad or seventh chord in the key (see
    :func:`harmonic_progression`)."""
    if not all((pc - key.tonic) % 12 in key.scale_steps for pc in pcs):
        return False
    from music21 import chord, roman  # music21's analysis: imported only here
    from music21 import key as m21key

    c = chord.Chord(sorted(60 + pc for pc in pcs))
    if not (c.isTriad() or c.isSeventh()):
        return False
    return roman.romanNumeralFromChord(c, m21key.Key(key.music21_name)).frontAlterationAccidental is None


def _sounding_pitches(score: Score) -> list[list[int]]:
    """At each onset, the pitches sounding (notes started there or still held), in time order."""
    notes = sorted((n for n in score.notes if not n.is_drum), key=lambda n: n.start)
    slices, held, i = [], [], 0
    for t, _ in _onsets(score):
        while i < len(notes) and notes[i].start <= t + 1e-6:
            held.append(notes[i])
            i += 1
        held = [n for n in held if n.end > t + 1e-6]
        slices.append([n.pitch for n in held])
    return slices


def _sounding_pitch_classes(score: Score) -> list[frozenset[int]]:
    """At each onset, the pitch classes sounding."""
    return [frozenset(p % 12 for p in pitches) for pitches in _sounding_pitches(score)]


def piece_features(score: Score) -> dict[str, float | list[float] | None]:
    """Every per-piece feature of a Score (histograms as lists), as JSON values."""
    pitches = score.pitch_list()
    beats = score.duration / score.seconds_per_beat if score.notes else 0.0
    reps = repetition_stats(score)
    return {
        "notes": len(pitches),
        "pitch_class_histogram": tonic_relative_histogram(score).round(6).tolist(),
        "pitch_range": float(max(pitches) - min(pitches)) if pitches else 0.0,
        "interval_histogram": interval_histogram(score).round(6).tolist(),
        "ioi_histogram": ioi_histogram(score).round(6).tolist(),
        "note_density": len(pitches) / beats if beats else 0.0,
        "polyphony": polyphony(score),
        "in_scale_ratio": in_scale_ratio(score),
        "on_grid_ratio": on_grid_ratio(score),
        "harmonic_progression": harmonic_progression(score),
        "longest_run": float(reps["longest_run"]),
        "top_pitch_share": float(reps["top_pitch_share"]),
    }


# --- set comparison (Yang & Lerch 2018) ------------------------------------------
#: Evaluation grid points for the smoothed distance densities.
_DENSITY_POINTS = 512
_MIN_BANDWIDTH = 1e-3


@dataclass(frozen=True)
class SetComparison:
    """How close one feature's values in a set are to a reference set."""

    feature: str
    overlap: float  # overlapping area of the intra-reference and inter-set distance densities, 0..1
    kl_divergence: float  # KL(intra-reference || inter-set), nats; 0 = identical
    mean: float | None  # the set's mean (scalar features only)
    reference_mean: float | None


def _as_matrix(values: Sequence) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr.reshape(len(arr), -1)


def _distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances: all pairs within ``a`` (each once), or every row of ``a`` to every row of ``b``."""
    if b is None:
        i, j = np.triu_indices(len(a), k=1)
        return np.linalg.norm(a[i] - a[j], axis=1)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2).ravel()


def _density(samples: np.ndarray, grid: np.ndarray, scale: float) -> np.ndarray:
    """Gaussian kernel density (Silverman's bandwidth, floored so identical values still form a bump)."""
    sd = float(np.std(samples))
    bandwidth = max(1.06 * sd * len(samples) ** (-1 / 5), _MIN_BANDWIDTH * max(scale, 1e-9))
    z = (grid[:, None] - samples[None, :]) / bandwidth
    pdf = np.exp(-0.5 * z * z).sum(axis=1) / (len(samples) * bandwidth * math.sqrt(2 * math.pi))
    return pdf


def overlap_and_kl(intra: np.ndarray, inter: np.ndarray) -> tuple[float, float]:
    """Overlapping area and KL(intra || inter) of two sets of distances, via smoothed densities."""
    both = np.concatenate([intra, inter])
    scale = float(both.max() - both.min()) or float(abs(both.max())) or 1.0
    pad = 0.1 * scale
    grid = np.linspace(both.min() - pad, both.max() + pad, _DENSITY_POINTS)
    dx = grid[1] - grid[0]
    p, q = _density(intra, grid, scale), _density(inter, grid, scale)
    p, q = p / (p.sum() * dx), q / (q.sum() * dx)
    overlap = float(np.minimum(p, q).sum() * dx)
    kl = float(np.sum(p * np.log(np.maximum(p, 1e-300) / np.maximum(q, 1e-12))) * dx)
    return min(max(overlap, 0.0), 1.0), max(kl, 0.0)


def compare_sets(
    generated: Sequence[Mapping], reference: Sequence[Mapping], features: Sequence[str] = DISTRIBUTION_FEATURES
) -> list[SetComparison]:
    """Yang & Lerch's comparison of two sets of :func:`piece_features`, one row per feature.

    Raises
    ------
    BadConfig
        Fewer than two reference pieces or one generated piece with the feature.
    """
    rows = []
    for name in features:
        gen = _as_matrix([f.get(name) for f in generated])
        ref = _as_matrix([f.get(name) for f in reference])
        if len(ref) < 2 or len(gen) < 1:
            raise BadConfig(f"comparing {name} needs at least 2 reference pieces and 1 generated piece "
                            f"(got {len(ref)} and {len(gen)})")
        overlap, kl = overlap_and_kl(_distances(ref), _distances(gen, ref))
        scalar = gen.shape[1] == 1
        rows.append(SetComparison(name, overlap, kl, float(gen.mean()) if scalar else None,
                                  float(ref.mean()) if scalar else None))
    return rows
