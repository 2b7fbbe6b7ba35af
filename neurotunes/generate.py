"""Pure, seeded generation from a model bundle.

The model's weights are stepped one token at a time in NumPy with the recurrent
state carried along, so a new token costs a few small matrix-vector products
instead of a ``model.predict`` over a whole window (and no TensorFlow import is
needed to generate).  Sampling uses its own ``numpy.random.Generator`` seeded
from the config: the same bundle, config, primer and seed give the same notes.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from .bundle import ModelBundle
from .config import GenerateConfig
from .encoding import BOS, EncodingConfig, Vocabulary, completes_note, score_to_tokens, tokens_to_score
from .errors import BadConfig
from .score import Note, Score

log = logging.getLogger(__name__)

RECIPE_KEY = "recipe"


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

    Event encoding: NOTE is followed by DUR, no pitch twice in one chord.
    Classic encoding: any note or chord token, never BOS.
    """

    def __init__(self, vocab: Vocabulary, enc: EncodingConfig):
        n = len(vocab)
        if enc.name == "classic":  # every token is its own kind: only BOS is special
            self.kind = np.array(["BOS" if t == BOS else "CLASSIC" for t in vocab.tokens])
        else:
            self.kind = np.array([t.partition("_")[0] for t in vocab.tokens])
        self.completes = np.array([completes_note(t, enc) for t in vocab.tokens])
        self.after_note = self.kind == "DUR"
        self.otherwise = (self.kind == "NOTE") | (self.kind == "SHIFT")
        self.n = n
        self.classic = enc.name == "classic"
        self.chord: set[int] = set()
        self.last = "BOS"
        self.shift_only = False  # after a primer: move on in time first, so primer notes stay first

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
        if self.shift_only:
            return self.kind == "SHIFT"
        allowed = self.otherwise.copy()
        if self.chord:
            allowed[list(self.chord)] = False
        return allowed


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
    """
    with single_threaded_blas():
        return _generate(bundle, config or GenerateConfig(), primer, on_progress)


def _generate(bundle: ModelBundle, config: GenerateConfig, primer: Score | None, on_progress) -> Score:
    vocab = bundle.vocab
    enc = bundle.encoding
    stepper = make_stepper(bundle)
    grammar = _Grammar(vocab, enc)
    rng = np.random.default_rng(config.seed)

    prefix = [BOS]
    primer_notes: list[Note] = []
    if primer is not None:
        primer = primer.without_drums()
        if not len(primer):
            raise BadConfig("the primer has no pitched notes to continue from")
        primer_on_grid = primer.with_tempo(config.tempo_bpm) if primer.tempo_bpm != config.tempo_bpm else primer
        prefix = score_to_tokens(primer_on_grid, enc)
        primer_notes = list(tokens_to_score(prefix, enc, tempo_bpm=config.tempo_bpm, program=config.program).notes)

    ids = list(vocab.encode(prefix, skip_unknown=True))  # a primer chord the model never saw is left out
    logits = None
    for t in ids:
        grammar.observe(t)
        logits = stepper.step(t)
    if primer is not None and not grammar.classic:
        grammar.require_shift()

    generated: list[int] = []
    notes = 0
    while True:
        allowed = grammar.mask()
        token = sample_from_logits(
            logits, rng, temperature=config.temperature, top_k=config.top_k, top_p=config.top_p, allowed=allowed
        )
        generated.append(token)
        grammar.observe(token)
        if grammar.completes[token]:
            notes += 1
            if on_progress:
                on_progress(notes, config.length)
            if notes >= config.length:
                break
        logits = stepper.step(token)

    tokens = prefix + vocab.decode(generated)
    recipe = recipe_for(bundle, config, primer)
    score = tokens_to_score(tokens, enc, tempo_bpm=config.tempo_bpm, program=config.program)
    notes_out = _accent(score.notes, config.tempo_bpm, enc.steps_per_quarter)
    return score.replace(
        notes=notes_out,
        metadata={
            RECIPE_KEY: recipe,
            "primer_notes": len(primer_notes),
            "generated_tokens": len(generated),
            "source": f"generated by {bundle.name}",
        },
    )


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
