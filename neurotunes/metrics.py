"""Musical and model metrics.

Key estimation follows Krumhansl & Kessler's key profiles (the method behind
music21's ``analyze('key')``), computed on duration-weighted pitch classes so it
needs nothing heavier than NumPy.
"""

from __future__ import annotations

import numpy as np

from .score import Score

# Krumhansl-Kessler probe-tone profiles, tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_TONIC_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")  # music21 spelling


def pitch_class_histogram(score: Score, *, weighted: bool = True) -> np.ndarray:
    """Share of each pitch class (C=0 ... B=11), weighted by note duration by default."""
    hist = np.zeros(12)
    for n in score.notes:
        if not n.is_drum:
            hist[n.pitch % 12] += n.duration if weighted else 1.0
    total = hist.sum()
    return hist / total if total else hist


def estimate_key(score: Score) -> tuple[int, str] | None:
    """Most likely key as ``(tonic pitch class, "major" | "minor")``; None for an empty piece."""
    hist = pitch_class_histogram(score)
    if not hist.any():
        return None
    best, best_r = None, -np.inf
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1]
            if r > best_r:
                best, best_r = (tonic, mode), r
    return best


def key_name(key: tuple[int, str]) -> str:
    tonic, mode = key
    name = _TONIC_NAMES[tonic]
    return f"{name if mode == 'major' else name.lower()} {mode}"


def parse_key_name(text: str) -> tuple[int, str] | None:
    """``"E- major"`` / ``"g minor"`` / ``"Bb Major"`` -> ``(tonic pitch class, mode)``; None if unreadable."""
    tonic, _, mode = text.strip().partition(" ")
    mode = mode.strip().lower() or "major"
    if not tonic or mode not in ("major", "minor"):
        return None
    base = "C D EF G A B".find(tonic[0].upper())
    if base < 0:
        return None
    shift = sum(1 for c in tonic[1:] if c == "#") - sum(1 for c in tonic[1:] if c in "-b")
    return ((base + shift) % 12, mode)


def model_metrics(bundle, scores, *, max_tokens: int = 200_000) -> dict[str, float]:
    """Validation figures of a model on held-out pieces, comparable across encodings.

    * ``nll_per_note``: the sum of token negative log-likelihoods (nats) divided by
      the number of notes, so encodings with more tokens per note are not favoured.
    * ``nll_per_onset``: the same sum divided by the number of distinct onsets (a
      chord counts once): Classical-Piano-Composer's "note", one token per chord.
    * ``perplexity_per_token``: exp of the mean token NLL.
    * ``pitch_accuracy``: at every step whose target carries a pitch (an event
      ``NOTE_p`` or a classic note/chord token), whether the most likely of those
      tokens is the right one.

    Runs the model one token at a time with its state carried (the same
    stepper that generates, :func:`~neurotunes.generate.make_stepper`), state reset per piece.
    """
    from .generate import single_threaded_blas

    with single_threaded_blas():
        return _model_metrics(bundle, scores, max_tokens)


def _model_metrics(bundle, scores, max_tokens: int) -> dict[str, float]:
    from .encoding import count_notes, score_to_tokens
    from .generate import make_stepper

    enc, vocab = bundle.encoding, bundle.vocab
    if enc.name == "classic":
        pitched = np.array([t != "BOS" for t in vocab.tokens])
    else:
        pitched = np.array([t.startswith("NOTE_") for t in vocab.tokens])
    stepper = make_stepper(bundle)
    nll, steps, notes, onsets, hits, pitch_steps = 0.0, 0, 0, 0, 0, 0
    for score in scores:
        tokens = score_to_tokens(score, enc)
        ids = vocab.encode(tokens, skip_unknown=True)
        notes += count_notes(vocab.decode(ids), enc)
        onsets += len({round(n.start, 4) for n in score.notes if not n.is_drum})
        stepper.reset()
        for current, target in zip(ids[:-1], ids[1:]):
            logits = stepper.step(int(current)).astype(np.float64)
            logits -= logits.max()
            log_probs = logits - np.log(np.exp(logits).sum())
            nll -= log_probs[target]
            steps += 1
            if pitched[target]:
                pitch_steps += 1
                hits += int(np.argmax(np.where(pitched, log_probs, -np.inf)) == target)
        if steps >= max_tokens:
            break
    if not steps:
        raise ValueError("no tokens to evaluate: the pieces are empty or outside the model's vocabulary")
    return {
        "nll_per_note": nll / max(notes, 1),
        "nll_per_onset": nll / max(onsets, 1),
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
