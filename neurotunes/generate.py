"""Pure, seeded generation from a model bundle.

The model's weights are stepped one token at a time in NumPy with the recurrent
state carried along, so a new token costs a few small matrix-vector products
instead of a ``model.predict`` over a whole window (and no TensorFlow import is
needed to generate).  Sampling uses its own ``numpy.random.Generator`` seeded
from the config: the same bundle, config, primer and seed give the same notes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable

import numpy as np

from . import constants as C
from .bundle import ModelBundle
from .config import GenerateConfig
from .encodings import Encoding, Vocabulary, encoding_for
from .errors import BadConfig, BadModel
from .keys import PITCH_CLASS_NAMES, piece_key
from .models import make_stepper
from .score import Note, Score

log = logging.getLogger(__name__)

RECIPE_KEY = "recipe"
#: Choices kept per step in a traced take (the "why this note" chart shows them).
TRACE_TOP = 10
#: How strongly the density setting favours short (or long) time shifts, per beat moved.
DENSITY_STRENGTH = 3.0
#: How strongly it disfavours (or favours) holding a note on where notes are held token by token (frames).
HOLD_DENSITY_STRENGTH = 2.0


class _Steering:
    """Musical constraints and taste applied to the distribution at each step:
    scale lock and pitch range (a hard mask), note density (a bias on time
    shifts, or on held notes in frames) and a repetition penalty on recently heard pitches."""

    def __init__(self, vocab: Vocabulary, encoding: Encoding, config: GenerateConfig):
        allowed_pitches = config.allowed_pitches()
        facts = encoding.facts(vocab)
        pitched = np.flatnonzero(facts.carries_pitch)
        self.allowed = np.ones(len(vocab), dtype=bool)
        for i in pitched:
            self.allowed[i] = all(p in allowed_pitches for p in facts.pitches[i])
        if not self.allowed[pitched].any():
            raise BadConfig(
                f"no note the model knows fits the {config.scale} scale on "
                f"{PITCH_CLASS_NAMES[config.key]} within pitches "
                f"{config.pitch_low}-{config.pitch_high}; widen the range or choose another scale"
            )
        # Density reshapes the choice among time shifts only: shorter moves for a busier texture, longer
        # ones for a sparser one (weight density ** (-DENSITY_STRENGTH * beats moved)).  How likely a shift is
        # at all stays the model's, so a chord never swells and a sparse setting never becomes all silence.
        # Where a note is held token by token (frames) time moves on one way only, so density weighs holding a
        # note on against striking a new one: above 1 notes are struck again sooner, below 1 they ring longer.
        self.shift_ids = self.hold_ids = np.array([], dtype=np.int64)
        if config.density != 1.0:
            self.shift_ids = np.flatnonzero(facts.time_shift).astype(np.int64)
            self.shift_bias = -np.log(config.density) * DENSITY_STRENGTH * facts.beats(self.shift_ids)
            self.hold_ids = np.flatnonzero(facts.holds_pitch).astype(np.int64)
            self.hold_bias = -np.log(config.density) * HOLD_DENSITY_STRENGTH
        self.penalty = float(np.log(config.repetition_penalty))
        self.window = config.no_repeat_window
        self.by_pitch = facts.by_pitch

    def adjust(self, logits: np.ndarray, recent_pitches: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Logits after density and repetition, and the constraint mask."""
        z = np.array(logits, dtype=np.float64)
        if self.shift_ids.size:
            before = z[self.shift_ids]
            after = before + self.shift_bias
            z[self.shift_ids] = after - _logsumexp(after) + _logsumexp(before)  # same total chance of a shift
        if self.hold_ids.size:
            z[self.hold_ids] += self.hold_bias
        if self.penalty and self.window and recent_pitches:
            hit = [i for p in set(recent_pitches[-self.window:]) for i in self.by_pitch.get(p, ())]
            z[hit] -= self.penalty
        return z, self.allowed


def _logsumexp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + float(np.log(np.sum(np.exp(x - top))))


def sample_from_logits(
    logits: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    allowed: np.ndarray | None = None,
) -> int:
    """Draw one token id from :func:`sampling_distribution`."""
    p = sampling_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p, allowed=allowed)
    return _draw(p, rng)


def sampling_distribution(
    logits: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """The probabilities the sampler draws from: temperature, the mask, then top-k, then nucleus (top-p).

    Tokens cut by the mask, top-k or top-p have probability 0; the rest sum to 1.
    """
    return _distribution(np.array(logits, dtype=np.float64), temperature, top_k, top_p, allowed)


def _distribution(z: np.ndarray, temperature: float, top_k: int, top_p: float,
                  allowed: np.ndarray | None) -> np.ndarray:
    """:func:`sampling_distribution` on float64 scores ``z`` that it may overwrite.

    Generation calls it once per token, so it works in place where it can; every
    operation and its order are those of the plain formula (``softmax(where(allowed,
    z / T, -inf))``, then the cuts, then renormalised), so the floats, and the notes
    a seed gives, do not depend on the shortcut.
    """
    if temperature != 1.0:  # z / 1.0 is z, bit for bit
        z /= temperature
    if allowed is not None:
        z = np.where(allowed, z, -np.inf)
    z -= z.max()
    np.exp(z, out=z)
    z /= z.sum()
    p = z
    if top_k and top_k < len(p):
        cutoff = np.partition(p, -top_k)[-top_k]
        p = np.where(p >= cutoff, p, 0.0)
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p * cum[-1])) + 1]
        kept = np.zeros_like(p)
        kept[keep] = p[keep]
        p = kept
    p /= p.sum()
    return p


def _pitch_nucleus(p: np.ndarray, pitched: np.ndarray, top_p: float) -> np.ndarray:
    """Nucleus sampling over the pitch choice only (the ``pitch_top_p`` setting), on probabilities ``p`` that it
    may overwrite: among the tokens that add a pitch (``pitched``), the likeliest that together hold ``top_p``
    of their chance are kept and given all of it; every other token (a held note, a frame end, a time shift, a
    duration) keeps its own.  So whether a note starts stays the model's choice and only unlikely pitches are
    cut.  (Plain top-p cuts across both: where holding a note is likelier than any one new pitch it cuts the new
    notes too, and the rhythm slows.)"""
    idx = (pitched & (p > 0)).nonzero()[0]
    if idx.size < 2:
        return p
    q = p[idx]
    mass = q.sum()
    order = (-q).argsort(kind="stable")
    ranked = q[order]
    count = int(ranked.cumsum().searchsorted(top_p * mass)) + 1
    if count >= q.size:  # nothing cut: p as it was (the rescaling below would multiply by exactly 1)
        return p
    kept = np.zeros(q.size)
    kept[order[:count]] = ranked[:count]
    p[idx] = kept * (mass / kept.sum())
    return p


def _draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """Inverse-CDF draw of one index from probabilities ``p`` (one uniform number from ``rng``)."""
    return int(min(p.cumsum().searchsorted(rng.random() * 1.0, side="right"), len(p) - 1))


def single_threaded_blas():
    """A context in which NumPy's BLAS uses one thread.

    Stepping multiplies small vectors: BLAS threads only add hand-off cost, and when
    other work (a training run, another user) holds the cores they spin and wait.
    Measured: 0.32 ms/token alone either way, but 4.2 ms/token multi-threaded vs
    0.50 single-threaded while a training run occupies both cores.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class StepTrace:
    """Why the model picked a token: its ten most likely choices at that step."""

    token: str
    top_tokens: list[str]
    top_probs: list[float]


@dataclass
class Generation:
    """A generated piece plus, per generated token, the model's top-10 choices.

    ``warnings`` says why a take stopped before its length (a budget ran out);
    the same text rides in the score's metadata under ``"stopped_early"``.
    ``config`` is the settings the take was made with, its own seed included.
    """

    score: Score
    trace: list[StepTrace] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config: GenerateConfig = field(default_factory=GenerateConfig)


def generate(
    bundle: ModelBundle,
    config: GenerateConfig | None = None,
    *,
    primer: Score | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Score:
    """Generate ``config.length`` new notes, continuing ``primer`` if given (no ``config``: the settings the model
    suggests, :meth:`~neurotunes.bundle.ModelBundle.generate_config`).

    The returned Score holds the primer's notes (if any) followed by the new
    ones; its metadata carries the full recipe (model hash, settings, seed)
    and ``primer_notes``, the number of leading primer notes.

    Raises
    ------
    BadConfig
        Impossible settings: a primer without notes, a scale lock the model has no notes for, ...
    """
    return generate_traced(bundle, config, primer=primer, on_progress=on_progress, trace_top=0).score


def generate_traced(
    bundle: ModelBundle,
    config: GenerateConfig | None = None,
    *,
    primer: Score | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    trace_top: int = TRACE_TOP,
) -> Generation:
    """One take, with the model's ``trace_top`` likeliest choices at every generated step (0: no trace).

    :func:`compose` makes several seeded takes with it; :func:`generate` is the one-take call.
    """
    config = config or bundle.generate_config()
    with single_threaded_blas():
        return replace(_generate(bundle, config, primer, on_progress, trace_top), config=config)


def compose(
    bundle: ModelBundle,
    config: GenerateConfig | None = None,
    *,
    count: int = 1,
    primer: Score | None = None,
    traced: bool = False,
    on_progress: Callable[[int, int, int], None] | None = None,
    on_take: Callable[[int], None] | None = None,
    max_count: int = C.MAX_VARIATIONS,
) -> list[Generation]:
    """``count`` takes with seeds ``seed, seed + 1, ...``: the one entry point for the CLI, the pages and evaluation
    (no ``config``: the settings the model suggests).

    Each take is reproducible on its own: take ``i`` is exactly ``generate`` with seed ``seed + i``.

    Parameters
    ----------
    count
        Takes to make, 1 to ``max_count`` (:data:`constants.MAX_VARIATIONS` unless the caller sets its own cap,
        as evaluation does).
    traced
        Keep the model's top choices at every generated step (``Generation.trace``, the "why this note" chart).
    on_progress
        ``on_progress(take, notes_done, notes_wanted)``, ``take`` counting from 1.
    on_take
        ``on_take(takes_done)`` after each take.

    Raises
    ------
    BadConfig
        A count outside 1..``max_count``, or what :func:`generate` raises.
    """
    config = config or bundle.generate_config()
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= max_count:
        raise BadConfig(f"ask for 1 to {max_count} takes, not {count!r}")
    takes = []
    for i in range(count):
        progress = None if on_progress is None else partial(on_progress, i + 1)
        takes.append(generate_traced(bundle, replace(config, seed=config.seed + i), primer=primer,
                                     on_progress=progress, trace_top=TRACE_TOP if traced else 0))
        if on_take:
            on_take(i + 1)
    return takes


class _Run:
    """One generation: the stepper, the grammar and the steering, and where the music has got to."""

    def __init__(self, bundle: ModelBundle, config: GenerateConfig):
        self.encoding = encoding_for(bundle.encoding)
        self.facts = self.encoding.facts(bundle.vocab)
        self.vocab = bundle.vocab
        self.config = config
        self.stepper = make_stepper(bundle)
        self.grammar = self.encoding.grammar(bundle.vocab, max_chord=config.max_chord)
        self.steering = _Steering(bundle.vocab, self.encoding, config)
        self.seconds_per_token = self.facts.seconds_per_token(config.tempo_bpm)
        # The same facts as Python values: feed() runs once per token, and indexing a list beats a NumPy array.
        self._seconds = self.seconds_per_token.tolist()
        self._completes = self.facts.completes_note.tolist()
        self._pitches = self.facts.pitches
        self._window = max(config.no_repeat_window, 1)
        # Never longer than MAX_GENERATE_SECONDS, whatever the model does (a run of long rests, say).
        self._limit = min(config.seconds or C.MAX_GENERATE_SECONDS, C.MAX_GENERATE_SECONDS)
        self.recent: list[int] = []
        self.seconds = 0.0
        self.notes = 0
        self.logits: np.ndarray | None = None
        self.start_budget()

    def start_budget(self) -> None:
        """Start counting the generation's budgets (after the primer has been fed)."""
        self.notes, self.seconds = 0, 0.0
        self.tokens = 0
        self.idle = 0  # tokens since the last finished note
        self.max_tokens = self.config.length * C.MAX_TOKENS_PER_NOTE + C.GENERATE_TOKEN_SLACK
        self.deadline = time.monotonic() + C.MAX_GENERATE_WALL_SECONDS
        self.stop_reason: str | None = None

    def feed(self, token: int) -> None:
        self.grammar.observe(token)
        self.seconds += self._seconds[token]
        recent = self.recent
        recent.extend(self._pitches[token])
        del recent[: -self._window]
        self.tokens += 1
        self.idle += 1
        if self._completes[token]:
            self.notes += 1
            self.idle = 0

    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """The steered scores (float64, the caller's to overwrite) and the mask of tokens that may come next."""
        if not np.isfinite(self.logits).all():
            # NaN scores make every choice meaningless (the sampler would pick one token forever).
            raise BadModel("the model's scores are not finite numbers (NaN or infinity), so it cannot make "
                           "music; it probably comes from a training run that diverged")
        z, allowed = self.steering.adjust(self.logits, self.recent)
        return z, self.grammar.mask() & allowed

    def finished(self) -> bool:
        if self.notes >= self.config.length or self.seconds >= self._limit:
            return True
        if self.idle >= C.NO_PROGRESS_TOKENS:
            self.stop_reason = f"the model wrote no note in {C.NO_PROGRESS_TOKENS} steps in a row"
        elif self.tokens >= self.max_tokens:
            self.stop_reason = f"the model used up its budget of {self.max_tokens} steps"
        elif time.monotonic() > self.deadline:
            self.stop_reason = (f"it reached the time limit of {C.MAX_GENERATE_WALL_SECONDS:g} s "
                                "(a shorter take or a narrower beam finishes in time)")
        return self.stop_reason is not None

    def snapshot(self):
        return (self.stepper.state(), self.grammar.copy(), list(self.recent), self.seconds, self.notes,
                None if self.logits is None else self.logits.copy(), self.tokens, self.idle)

    def restore(self, snap) -> None:
        state, grammar, recent, seconds, notes, logits, tokens, idle = snap
        self.stepper.set_state(state)
        self.grammar, self.recent, self.seconds, self.notes, self.logits = grammar.copy(), list(recent), seconds, notes, logits
        self.tokens, self.idle = tokens, idle


def _generate(bundle, config: GenerateConfig, primer: Score | None, on_progress, trace_top: int) -> Generation:
    """Generate in the model's own key space, then move the result where the user wants it.

    A key-normalised model (trained in C major / A minor) gets its primer moved
    there first and moved back afterwards, so a primer keeps its key.  The
    ``transpose`` setting moves the whole result; the scale lock and the pitch
    range are the user's, so they are mapped into the model's space before sampling.
    """
    encoding, vocab = encoding_for(bundle.encoding), bundle.vocab
    if primer is not None:
        primer = primer.without_drums()
        if not len(primer):
            raise BadConfig("the primer has no pitched notes to continue from")
    primer_key = piece_key(primer) if primer is not None and bundle.key_normalized else None
    into_model = primer_key.shift_to_reference() if primer_key else 0
    out_shift = config.transpose - into_model  # model space -> what the user hears
    model_config = _in_model_space(config, out_shift)
    run = _Run(bundle, model_config)
    prefix = [encoding.bos]
    primer_notes: list[Note] = []
    if primer is not None:
        moved = primer.transpose(into_model) if into_model else primer
        primer_on_grid = moved.with_tempo(config.tempo_bpm) if moved.tempo_bpm != config.tempo_bpm else moved
        prefix = encoding.encode(primer_on_grid)
        primer_notes = list(encoding.decode(prefix, tempo_bpm=config.tempo_bpm, program=config.program).notes)
    ids = list(vocab.encode(prefix, skip_unknown=True))  # a primer chord the model never saw is left out
    if not ids:
        raise BadConfig("none of the primer's notes are in the model's vocabulary")
    for t in ids:
        run.feed(int(t))
        run.logits = run.stepper.step(int(t))
    run.start_budget()
    if primer is not None:
        run.grammar.after_primer()

    if config.beam_width > 1:
        generated, trace = _beam_search(run, config.beam_width, on_progress)
    else:
        generated, trace = _sample(run, np.random.default_rng(config.seed), on_progress, trace_top)
    warnings = []
    if run.stop_reason is not None:
        made = sum(1 for t in generated if run.facts.completes_note[t])
        if not made:
            raise BadModel(f"the model made no notes: {run.stop_reason}; it may be untrained or broken")
        warnings.append(f"Stopped after {made} of {config.length} notes: {run.stop_reason}.")

    tokens = prefix + vocab.decode(generated)
    score = encoding.decode(tokens, tempo_bpm=config.tempo_bpm, program=config.program)
    if out_shift:
        score = score.transpose(out_shift)
        trace = [StepTrace(encoding.transpose_token(t.token, out_shift),
                           [encoding.transpose_token(x, out_shift) for x in t.top_tokens], t.top_probs) for t in trace]
    notes_out = _accent(score.notes, config.tempo_bpm, bundle.encoding.steps_per_quarter)
    score = score.replace(
        notes=notes_out,
        metadata={
            **score.metadata,  # what the encoding read besides the notes (bar-frame takes: pickup, fermatas)
            RECIPE_KEY: recipe_for(bundle, config, primer),
            "primer_notes": len(primer_notes),
            "generated_tokens": len(generated),
            "source": f"generated by {bundle.name}",
            **({"stopped_early": warnings[0]} if warnings else {}),
        },
    )
    return Generation(score=score, trace=trace, warnings=warnings)


def _in_model_space(config: GenerateConfig, out_shift: int) -> GenerateConfig:
    """The scale lock and pitch range as the model must see them when its output moves by ``out_shift``."""
    if not out_shift:
        return config
    low, high = config.pitch_low - out_shift, config.pitch_high - out_shift
    if high < C.MIDI_PITCH_MIN or low > C.MIDI_PITCH_MAX:
        raise BadConfig(f"moving the music by {out_shift:+d} semitones leaves no pitch inside "
                        f"{config.pitch_low}-{config.pitch_high}; narrow the transposition or widen the range")
    return replace(config, key=(config.key - out_shift) % 12, pitch_low=max(low, C.MIDI_PITCH_MIN),
                   pitch_high=min(high, C.MIDI_PITCH_MAX))


def _sample(run: _Run, rng: np.random.Generator, on_progress, trace_top: int):
    config, vocab = run.config, run.vocab
    temperature, top_k, top_p = config.temperature, config.top_k, config.top_p
    pitch_top_p, pitched = config.pitch_top_p, run.facts.carries_pitch
    step, feed, finished, distribution = run.stepper.step, run.feed, run.finished, run.distribution
    length = config.length
    generated: list[int] = []
    trace: list[StepTrace] = []
    while True:
        z, allowed = distribution()
        if not np.count_nonzero(allowed):  # (a quicker allowed.any())
            break  # nothing may follow (cannot happen with a trained vocabulary; kept as a guard)
        probs = _distribution(z, temperature, top_k, top_p, allowed)
        if pitch_top_p < 1.0:
            probs = _pitch_nucleus(probs, pitched, pitch_top_p)
        token = _draw(probs, rng)
        if trace_top:
            # What the draw used (after temperature, masks, top-k and top-p): a token cut by top-k/top-p
            # had no chance, so it is not shown as a likely choice.
            top = [i for i in np.argsort(-probs, kind="stable")[:trace_top] if probs[i] > 0]
            trace.append(StepTrace(vocab.tokens[token], [vocab.tokens[i] for i in top],
                                   [float(probs[i]) for i in top]))
        generated.append(token)
        before = run.notes
        feed(token)
        if on_progress and run.notes != before:
            on_progress(run.notes, length)
        if finished():
            break
        run.logits = step(token)
    return generated, trace


def _beam_search(run: _Run, width: int, on_progress):
    """Keep the ``width`` most likely continuations (log-probability, with the steering applied).

    The temperature applies as in sampling: each step's distribution is ``softmax(logits / T)``,
    so the beam looks for the likeliest continuation under the distribution a sampled take
    would draw from.  (Dividing the summed log-probabilities by T instead would rank every
    beam exactly as T = 1 does.)  Near 0 the beam follows the single likeliest token at
    each step; above 1 it weighs the model's confidence less.  Top-k, top-p and pitch top-p
    are sampling cuts and do not apply: the beam keeps its own ``width`` best.
    """
    beams = [(0.0, [], run.snapshot(), False)]  # (log-probability, tokens, state, finished)
    completes = run.facts.completes_note
    # Where a note is held token by token (frames), holding is nearly free and writes no note, so the summed
    # log-probability ranks "hold this chord for ever" first: such beams are ranked by log-probability per note.
    per_note = bool(run.facts.holds_pitch.any())
    while not all(done for *_, done in beams):
        candidates = []  # (log-probability, tokens, parent state, next token or None when finished, notes)
        for score, tokens, snap, done in beams:
            notes = snap[4]  # the notes the beam has written (see _Run.snapshot)
            if done:
                candidates.append((score, tokens, snap, None, notes))
                continue
            run.restore(snap)
            z, allowed = run.distribution()
            tempered = z / run.config.temperature
            log_probs = np.log(np.maximum(_softmax(np.where(allowed, tempered, -np.inf)), 1e-300))
            for token in np.argsort(-log_probs, kind="stable")[:width]:
                if allowed[token]:
                    candidates.append((score + float(log_probs[token]), tokens + [int(token)], snap, int(token),
                                       notes + int(completes[token])))
        candidates.sort(key=(lambda c: -c[0] / max(c[4], 1)) if per_note else (lambda c: -c[0]))
        beams = []
        for score, tokens, snap, token, _ in candidates[:width]:
            if token is None:
                beams.append((score, tokens, snap, True))
                continue
            run.restore(snap)
            run.feed(token)
            done = run.finished()
            if not done:
                run.logits = run.stepper.step(token)
            beams.append((score, tokens, run.snapshot(), done))
        if on_progress:
            on_progress(min(len(beams[0][1]) // 2, run.config.length), run.config.length)
    run.stop_reason = None  # why the best beam ended, not whichever beam was looked at last
    run.restore(beams[0][2])
    run.finished()
    return beams[0][1], []


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - np.max(z)
    p = np.exp(z)
    return p / p.sum()


def _accent(notes: tuple[Note, ...], tempo_bpm: float, steps_per_quarter: int) -> tuple[Note, ...]:
    """Give downbeats a little more weight than off-beats, as a player would (4/4 metre)."""
    step = 60.0 / tempo_bpm / steps_per_quarter
    out = []
    for n in notes:
        pos = int(round(n.start / step)) % (4 * steps_per_quarter)
        velocity = 92 if pos == 0 else 84 if pos % steps_per_quarter == 0 else 72
        out.append(replace(n, velocity=velocity))
    return tuple(out)


def recipe_for(bundle: ModelBundle, config: GenerateConfig, primer: Score | None) -> dict[str, Any]:
    """Everything needed to regenerate the same notes."""
    return {
        "model_name": bundle.name,
        "model_hash": bundle.hash,
        "settings": config.to_dict(),
        "primer": primer.to_dict() if primer is not None else None,
    }
