"""Pure, seeded generation from a model bundle.

The model's weights are stepped one token at a time in NumPy with the recurrent
state carried along, so a new token costs a few small matrix-vector products
instead of a ``model.predict`` over a whole window (and no TensorFlow import is
needed to generate).  Sampling uses its own ``numpy.random.Generator`` seeded
from the config: the same bundle, config, primer and seed give the same notes.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from . import constants as C
from .bundle import ModelBundle
from .config import GenerateConfig
from .encoding import (
    BOS,
    CLASSIC_STEP_QUARTERS,
    EncodingConfig,
    Vocabulary,
    completes_note,
    score_to_tokens,
    tokens_to_score,
    transpose_token,
)
from .errors import BadConfig, BadModel
from .score import PITCH_CLASS_NAMES, Note, Score

log = logging.getLogger(__name__)

RECIPE_KEY = "recipe"
#: How strongly the density setting favours short (or long) time shifts, per beat moved.
DENSITY_STRENGTH = 3.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # exact identity; never overflows


class RecurrentStepper:
    """The bundle's recurrent stack (LSTM, GRU, SimpleRNN, optionally with causal
    attention on top) run one token at a time on NumPy arrays.

    ``step(token)`` feeds one token id and returns next-token logits; the state
    (and, with attention, the cached outputs it attends to) is kept on the object.
    Equal within float32 rounding to running the Keras model over the whole prefix.
    """

    def __init__(self, bundle: ModelBundle):
        cfg = bundle.model
        w = [np.asarray(a, dtype=np.float32) for a in bundle.weights]
        self.arch = "lstm" if cfg.arch == "lstm_attention" else cfg.arch
        self.attention = cfg.arch == "lstm_attention"
        self.context = cfg.context
        self.units = cfg.units
        embedding = w[0]
        self.layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        i = 1
        for _ in range(cfg.layers):
            self.layers.append((w[i], w[i + 1], w[i + 2]))
            i += 3
        self.scale = float(w[i]) if self.attention else 1.0
        i += int(self.attention)
        self.dense_w, self.dense_b = w[i], w[i + 1]
        # The first layer's input projection of every token, precomputed: a row lookup per step.
        kernel, _, bias = self.layers[0]
        input_bias = bias[0] if self.arch == "gru" else bias
        self.first_projection = embedding @ kernel + input_bias
        self.reset()

    def reset(self) -> None:
        self.h = [np.zeros(self.units, dtype=np.float32) for _ in self.layers]
        self.c = [np.zeros(self.units, dtype=np.float32) for _ in self.layers]
        self.memory: list[np.ndarray] = []  # attention keys = values: the top layer's past outputs

    def state(self):
        return [h.copy() for h in self.h], [c.copy() for c in self.c], list(self.memory)

    def set_state(self, state) -> None:
        self.h = [h.copy() for h in state[0]]
        self.c = [c.copy() for c in state[1]]
        self.memory = list(state[2])

    def step(self, token: int) -> np.ndarray:
        u = self.units
        x = None
        for li, (kernel, recurrent, bias) in enumerate(self.layers):
            h = self.h[li]
            if self.arch == "lstm":
                z = (self.first_projection[token] if li == 0 else x @ kernel + bias) + h @ recurrent
                i_g = _sigmoid(z[:u])
                f_g = _sigmoid(z[u : 2 * u])
                c_hat = np.tanh(z[2 * u : 3 * u])
                o_g = _sigmoid(z[3 * u :])
                c = f_g * self.c[li] + i_g * c_hat
                self.c[li] = c
                h = o_g * np.tanh(c)
            elif self.arch == "gru":  # reset_after=True (Keras 2 default)
                xz = self.first_projection[token] if li == 0 else x @ kernel + bias[0]
                hz = h @ recurrent + bias[1]
                z_g = _sigmoid(xz[:u] + hz[:u])
                r_g = _sigmoid(xz[u : 2 * u] + hz[u : 2 * u])
                h_hat = np.tanh(xz[2 * u :] + r_g * hz[2 * u :])
                h = z_g * h + (1.0 - z_g) * h_hat
            else:  # SimpleRNN
                h = np.tanh((self.first_projection[token] if li == 0 else x @ kernel + bias) + h @ recurrent)
            self.h[li] = h
            x = h
        if self.attention:
            self.memory.append(x)
            del self.memory[: -self.context]
            keys = np.stack(self.memory)
            scores = self.scale * (keys @ x)
            weights = np.exp(scores - scores.max())
            x = np.concatenate([x, (weights / weights.sum()) @ keys])
        return x @ self.dense_w + self.dense_b


class ConvStepper:
    """The dilated causal CNN run one token at a time: each layer keeps a ring buffer
    of its past inputs (as deep as its dilation), so a step costs one pass per layer."""

    def __init__(self, bundle: ModelBundle):
        cfg = bundle.model
        w = [np.asarray(a, dtype=np.float32) for a in bundle.weights]
        self.units = cfg.units
        self.projection = w[0] @ w[1][0] + w[2]  # embedding -> input projection, per token
        self.layers = []
        i = 3
        for layer in range(cfg.layers):
            dilated_k, dilated_b, res_k, res_b = w[i], w[i + 1], w[i + 2][0], w[i + 3]
            self.layers.append((2**layer, dilated_k[0], dilated_k[1], dilated_b, res_k, res_b))
            i += 4
        self.dense_w, self.dense_b = w[i], w[i + 1]
        self.reset()

    def reset(self) -> None:
        self.buffers = [np.zeros((d, self.units), dtype=np.float32) for d, *_ in self.layers]
        self.t = 0

    def state(self):
        return [b.copy() for b in self.buffers], self.t

    def set_state(self, state) -> None:
        self.buffers = [b.copy() for b in state[0]]
        self.t = state[1]

    def step(self, token: int) -> np.ndarray:
        u = self.units
        x = self.projection[token]
        for buffer, (d, k_past, k_now, bias, res_k, res_b) in zip(self.buffers, self.layers):
            slot = self.t % d
            past = buffer[slot]  # this layer's input d steps ago (zeros before the start: causal padding)
            gated = past @ k_past + x @ k_now + bias
            z = np.tanh(gated[:u]) * _sigmoid(gated[u:])
            buffer[slot] = x
            x = x + z @ res_k + res_b
        self.t += 1
        return np.maximum(x, 0.0) @ self.dense_w + self.dense_b


def make_stepper(bundle: ModelBundle):
    """The exact one-token-at-a-time runner for the bundle's architecture."""
    return ConvStepper(bundle) if bundle.model.arch == "cnn" else RecurrentStepper(bundle)


class _Grammar:
    """Which tokens may come next.

    Event encoding: NOTE is followed by DUR, no pitch twice in one chord, at most
    ``max_chord`` notes per onset.  Classic encoding: any note or chord token, never BOS.
    """

    def __init__(self, vocab: Vocabulary, enc: EncodingConfig, max_chord: int = 0):
        if enc.name == "classic":  # every token is its own kind: only BOS is special
            self.kind = np.array(["BOS" if t == BOS else "CLASSIC" for t in vocab.tokens])
        else:
            self.kind = np.array([t.partition("_")[0] for t in vocab.tokens])
        self.completes = np.array([completes_note(t, enc) for t in vocab.tokens])
        self.after_note = self.kind == "DUR"
        self.otherwise = (self.kind == "NOTE") | (self.kind == "SHIFT")
        self.shifts = self.kind == "SHIFT"
        self.classic = enc.name == "classic"
        self.max_chord = max_chord
        self.chord: set[int] = set()
        self.last = "BOS"
        self.shift_only = False  # after a primer: move on in time first, so primer notes stay first

    def copy(self) -> "_Grammar":
        other = copy.copy(self)
        other.chord = set(self.chord)
        return other

    def require_shift(self) -> None:
        self.shift_only = True

    def observe(self, token: int) -> None:
        kind = self.kind[token]
        if kind == "SHIFT":
            self.shift_only = False
        if kind == "NOTE":
            self.chord.add(token)
        elif kind == "SHIFT" or kind == "BOS":
            self.chord.clear()
        self.last = kind

    def mask(self) -> np.ndarray:
        if self.last == "NOTE":
            return self.after_note
        if self.classic:
            return self.kind == "CLASSIC"
        if self.shift_only or (self.max_chord and len(self.chord) >= self.max_chord):
            return self.shifts
        allowed = self.otherwise.copy()
        if self.chord:
            allowed[list(self.chord)] = False
        return allowed


class _Steering:
    """Musical constraints and taste applied to the distribution at each step:
    scale lock and pitch range (a hard mask), note density (a bias on time
    shifts) and a repetition penalty on recently heard pitches."""

    def __init__(self, vocab: Vocabulary, enc: EncodingConfig, config: GenerateConfig):
        allowed_pitches = config.allowed_pitches()
        self.pitch_of: dict[int, list[int]] = {}
        for i, tok in enumerate(vocab.tokens):
            if enc.name == "classic" and tok != BOS:
                self.pitch_of[i] = tokens_to_score([tok], enc).pitch_list()
            elif tok.startswith("NOTE_"):
                self.pitch_of[i] = [int(tok[5:])]
        self.allowed = np.ones(len(vocab), dtype=bool)
        for i, pitches in self.pitch_of.items():
            self.allowed[i] = all(p in allowed_pitches for p in pitches)
        if not any(self.allowed[i] for i in self.pitch_of):
            raise BadConfig(
                f"no note the model knows fits the {config.scale} scale on "
                f"{PITCH_CLASS_NAMES[config.key]} within pitches "
                f"{config.pitch_low}-{config.pitch_high}; widen the range or choose another scale"
            )
        # Density reshapes the choice among time shifts only: shorter moves for a busier texture, longer
        # ones for a sparser one (weight density ** (-DENSITY_STRENGTH * beats moved)).  How likely a shift is
        # at all stays the model's, so a chord never swells and a sparse setting never becomes all silence.
        self.shift_ids = np.array([], dtype=np.int64)
        if enc.name == "event" and config.density != 1.0:
            self.shift_ids = vocab.ids_with_prefix("SHIFT_").astype(np.int64)
            beats = np.array([int(vocab.tokens[i][6:]) / enc.steps_per_quarter for i in self.shift_ids])
            self.shift_bias = -np.log(config.density) * DENSITY_STRENGTH * beats
        self.penalty = float(np.log(config.repetition_penalty))
        self.window = config.no_repeat_window
        self.by_pitch: dict[int, list[int]] = {}
        for i, pitches in self.pitch_of.items():
            for p in pitches:
                self.by_pitch.setdefault(p, []).append(i)

    def adjust(self, logits: np.ndarray, recent_pitches: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Logits after density and repetition, and the constraint mask."""
        z = np.array(logits, dtype=np.float64)
        if self.shift_ids.size:
            before = z[self.shift_ids]
            after = before + self.shift_bias
            z[self.shift_ids] = after - _logsumexp(after) + _logsumexp(before)  # same total chance of a shift
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
    """Draw one token id: temperature, then top-k, then nucleus (top-p) filtering."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    if allowed is not None:
        z = np.where(allowed, z, -np.inf)
    z = z - np.max(z)
    p = np.exp(z)
    p /= p.sum()
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
    return int(min(np.searchsorted(np.cumsum(p), rng.random() * 1.0, side="right"), len(p) - 1))


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
    """

    score: Score
    trace: list[StepTrace] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def generate(
    bundle: ModelBundle,
    config: GenerateConfig | None = None,
    *,
    primer: Score | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Score:
    """Generate ``config.length`` new notes, continuing ``primer`` if given.

    The returned Score holds the primer's notes (if any) followed by the new
    ones; its metadata carries the full recipe (model hash, settings, seed)
    and ``primer_notes``, the number of leading primer notes.

    Raises
    ------
    BadConfig
        Impossible settings: a primer without notes, a scale lock the model has no notes for, ...
    """
    return generate_traced(bundle, config, primer=primer, on_progress=on_progress).score


def generate_traced(
    bundle: ModelBundle,
    config: GenerateConfig | None = None,
    *,
    primer: Score | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    trace_top: int = 10,
) -> Generation:
    """Like :func:`generate`, also returning the model's top choices at every generated step."""
    config = config or GenerateConfig()
    with single_threaded_blas():
        return _generate(bundle, config, primer, on_progress, trace_top)


def generate_variations(
    bundle: ModelBundle, config: GenerateConfig, count: int, *, primer: Score | None = None
) -> list[Score]:
    """``count`` takes with seeds ``seed, seed + 1, ...``: each reproducible on its own."""
    if not 1 <= count <= C.MAX_VARIATIONS:
        raise BadConfig(f"ask for 1 to {C.MAX_VARIATIONS} variations, not {count}")
    return takes_with_seeds(bundle, config, count, primer=primer)


def takes_with_seeds(
    bundle: ModelBundle,
    config: GenerateConfig,
    count: int,
    *,
    primer: Score | None = None,
    on_take: Callable[[int], None] | None = None,
) -> list[Score]:
    """Takes with seeds ``seed, seed + 1, ...`` (no cap here: callers set theirs); ``on_take(done)`` after each."""
    takes = []
    for i in range(count):
        takes.append(generate(bundle, replace(config, seed=config.seed + i), primer=primer))
        if on_take:
            on_take(i + 1)
    return takes


class _Run:
    """One generation: the stepper, the grammar and the steering, and where the music has got to."""

    def __init__(self, bundle: ModelBundle, config: GenerateConfig):
        self.enc = bundle.encoding
        self.vocab = bundle.vocab
        self.config = config
        self.stepper = make_stepper(bundle)
        self.grammar = _Grammar(bundle.vocab, bundle.encoding, config.max_chord)
        self.steering = _Steering(bundle.vocab, bundle.encoding, config)
        if self.enc.name == "classic":
            self.seconds_per_token = {i: CLASSIC_STEP_QUARTERS * 60.0 / config.tempo_bpm
                                      for i, t in enumerate(bundle.vocab.tokens) if t != BOS}
        else:
            step = 60.0 / config.tempo_bpm / self.enc.steps_per_quarter
            self.seconds_per_token = {i: int(t[6:]) * step for i, t in enumerate(bundle.vocab.tokens)
                                      if t.startswith("SHIFT_")}
        self.pitch_of = self.steering.pitch_of
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
        self.seconds += self.seconds_per_token.get(token, 0.0)
        self.recent.extend(self.pitch_of.get(token, ()))
        del self.recent[: -max(self.config.no_repeat_window, 1)]
        self.tokens += 1
        self.idle += 1
        if self.grammar.completes[token]:
            self.notes += 1
            self.idle = 0

    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        if not np.all(np.isfinite(self.logits)):
            # NaN scores make every choice meaningless (the sampler would pick one token forever).
            raise BadModel("the model's scores are not finite numbers (NaN or infinity), so it cannot make "
                           "music; it probably comes from a training run that diverged")
        z, allowed = self.steering.adjust(self.logits, self.recent)
        return z, self.grammar.mask() & allowed

    def finished(self) -> bool:
        # Never longer than MAX_GENERATE_SECONDS, whatever the model does (a run of long rests, say).
        limit = min(self.config.seconds or C.MAX_GENERATE_SECONDS, C.MAX_GENERATE_SECONDS)
        if self.notes >= self.config.length or self.seconds >= limit:
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
    enc, vocab = bundle.encoding, bundle.vocab
    if primer is not None:
        primer = primer.without_drums()
        if not len(primer):
            raise BadConfig("the primer has no pitched notes to continue from")
    into_model = 0
    if primer is not None and bundle.key_normalized:
        from .dataset import key_shift

        into_model = key_shift(primer)[0]
    out_shift = config.transpose - into_model  # model space -> what the user hears
    model_config = _in_model_space(config, out_shift)
    run = _Run(bundle, model_config)
    prefix = [BOS]
    primer_notes: list[Note] = []
    if primer is not None:
        moved = primer.transpose(into_model) if into_model else primer
        primer_on_grid = moved.with_tempo(config.tempo_bpm) if moved.tempo_bpm != config.tempo_bpm else moved
        prefix = score_to_tokens(primer_on_grid, enc)
        primer_notes = list(tokens_to_score(prefix, enc, tempo_bpm=config.tempo_bpm, program=config.program).notes)
    ids = list(vocab.encode(prefix, skip_unknown=True))  # a primer chord the model never saw is left out
    if not ids:
        raise BadConfig("none of the primer's notes are in the model's vocabulary")
    for t in ids:
        run.feed(int(t))
        run.logits = run.stepper.step(int(t))
    run.start_budget()
    if primer is not None and not run.grammar.classic:
        run.grammar.require_shift()

    if config.beam_width > 1:
        generated, trace = _beam_search(run, config.beam_width, on_progress)
    else:
        generated, trace = _sample(run, np.random.default_rng(config.seed), on_progress, trace_top)
    warnings = []
    if run.stop_reason is not None:
        made = sum(1 for t in generated if run.grammar.completes[t])
        if not made:
            raise BadModel(f"the model made no notes: {run.stop_reason}; it may be untrained or broken")
        warnings.append(f"Stopped after {made} of {config.length} notes: {run.stop_reason}.")

    tokens = prefix + vocab.decode(generated)
    score = tokens_to_score(tokens, enc, tempo_bpm=config.tempo_bpm, program=config.program)
    if out_shift:
        score = score.transpose(out_shift)
        trace = [StepTrace(transpose_token(t.token, enc, out_shift),
                           [transpose_token(x, enc, out_shift) for x in t.top_tokens], t.top_probs) for t in trace]
    notes_out = _accent(score.notes, config.tempo_bpm, enc.steps_per_quarter)
    score = score.replace(
        notes=notes_out,
        metadata={
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
    generated: list[int] = []
    trace: list[StepTrace] = []
    while True:
        z, allowed = run.distribution()
        if not allowed.any():
            break  # nothing may follow (cannot happen with a trained vocabulary; kept as a guard)
        token = sample_from_logits(z, rng, temperature=config.temperature, top_k=config.top_k, top_p=config.top_p,
                                   allowed=allowed)
        if trace_top:
            probs = _softmax(np.where(allowed, z / config.temperature, -np.inf))
            top = np.argsort(-probs, kind="stable")[:trace_top]
            trace.append(StepTrace(vocab.tokens[token], [vocab.tokens[i] for i in top],
                                   [float(probs[i]) for i in top]))
        generated.append(token)
        before = run.notes
        run.feed(token)
        if on_progress and run.notes != before:
            on_progress(run.notes, config.length)
        if run.finished():
            break
        run.logits = run.stepper.step(token)
    return generated, trace


def _beam_search(run: _Run, width: int, on_progress):
    """Keep the ``width`` most likely continuations (log-probability, with the steering applied)."""
    beams = [(0.0, [], run.snapshot(), False)]  # (log-probability, tokens, state, finished)
    while not all(done for *_, done in beams):
        candidates = []  # (log-probability, tokens, parent state, next token or None when finished)
        for score, tokens, snap, done in beams:
            if done:
                candidates.append((score, tokens, snap, None))
                continue
            run.restore(snap)
            z, allowed = run.distribution()
            log_probs = np.log(np.maximum(_softmax(np.where(allowed, z, -np.inf)), 1e-300))
            for token in np.argsort(-log_probs, kind="stable")[:width]:
                if allowed[token]:
                    candidates.append((score + float(log_probs[token]), tokens + [int(token)], snap, int(token)))
        candidates.sort(key=lambda c: -c[0])
        beams = []
        for score, tokens, snap, token in candidates[:width]:
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
