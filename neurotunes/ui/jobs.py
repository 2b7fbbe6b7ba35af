"""Training in a child process, so it keeps going while the user moves between pages and
TensorFlow's memory goes back to the operating system when it ends.

A :class:`TrainingJob` lives in the user's session; a page fragment polls its
:meth:`~TrainingJob.snapshot`.  The work runs in a process started with the
"spawn" method (a fresh interpreter: nothing of the server is copied into it,
and TensorFlow is never imported into the server).  A watcher thread in the
server passes the configs in, relays progress, per-epoch samples and a stop
request, and turns a child that dies without a word (killed, out of memory)
into a failed job with a message.  Measured on a `python -m streamlit run` server
driven by Chromium (Train page, Quick: Bach chorales, 40 pieces, 1 x LSTM 128, 3
epochs, after one generated take): in a server thread the server went from 312 to
1036 MB resident and stayed there; in a child it goes from 304 to 398 MB (38 MB of it
music21 and the chorales the page reads) while the child peaks at 689 MB and gives
it all back when it exits.

One training runs per server at a time (a small host has a couple of cores):
the others wait and say so.  A running training also holds one place in the
server's line of heavy jobs (:mod:`neurotunes.ui.queue`), so Generate,
Transcribe and Evaluate share the other cores instead of competing with it.  What crosses between the processes is
pickled by us for us: the dataset (its Scores as ``Score.to_dict``: a Score's
read-only metadata does not pickle) and configs on the way in; progress, samples
and the bundle's files (``ModelBundle.to_files``, checked again by
``ModelBundle.from_files``) on the way out.  Nothing user-supplied is ever unpickled.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..bundle import ModelBundle
from ..config import GenerateConfig, ModelConfig, TrainConfig
from ..dataset import CorpusRecipe, Dataset
from ..shards import ShardSet
from ..encodings import EncodingConfig
from ..errors import NeuroTunesError
from ..evaluate import LearningVerdict, chance_nll_per_token, learning_verdict
from ..generate import generate
from ..score import Score
from ..training import OptimizerState, StoppedBy, train

log = logging.getLogger(__name__)

#: One training at a time per server process (a heavy job of its own kind, outside the users' line).
_TRAINING_SLOT = threading.Semaphore(1)
#: Notes in the sample played after an epoch.
SAMPLE_NOTES = 48
#: Keep at most this many per-batch losses for the smoothed curve.
MAX_BATCH_POINTS = 2000
#: How much lower than the server a training process runs (Unix nice): users' pages come first.
TRAINING_NICENESS = 10
#: Seconds between the watcher's looks at the child: the latency of "Stop" and of noticing a crash.
POLL_S = 0.2
#: Seconds to wait for a child to exit after its last message before ending it.
EXIT_GRACE_S = 10.0

_STATUS_ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's progress, for the page to draw."""

    status: str  # queued -> running -> done | stopped | failed
    fraction: float
    eta_s: float | None
    message: str
    history: Mapping[str, list[float]]
    batch_losses: tuple[tuple[float, float], ...]  # (epoch position, loss)
    samples: tuple[tuple[int, Score], ...]  # (epoch, generated sample)
    error: str | None
    checkpoint: ModelBundle | None  # weights after the latest epoch
    result: ModelBundle | None
    stopped_by: StoppedBy | None = None  # why a finished run ended before its last epoch
    verdict: LearningVerdict | None = None  # did it learn? (None: nothing measured to judge by)
    model_key: str | None = None  # the result's name among the session's models, once collected

    @property
    def active(self) -> bool:
        return self.status in _STATUS_ACTIVE

    @property
    def checkpoint_epoch(self) -> int:
        """Epochs the checkpoint has seen (a resumed run's earlier ones included)."""
        return self.checkpoint.metrics.epochs if self.checkpoint is not None else 0


@dataclass
class TrainingJob:
    dataset: Dataset | CorpusRecipe | ShardSet  # a recipe is read, and shards are streamed, in the training process
    model_config: ModelConfig
    train_config: TrainConfig
    name: str
    resume_from: ModelBundle | None = None
    sample_every: int = 1
    resume_optimizer: OptimizerState | None = None  # Adam's state saved with ``resume_from``

    status: str = "queued"  # queued -> running -> done | stopped | failed
    fraction: float = 0.0
    eta_s: float | None = None
    message: str = "Waiting for the trainer…"
    history: dict[str, list[float]] = field(default_factory=dict)
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch position, loss)
    samples: list[tuple[int, Score]] = field(default_factory=list)  # (epoch, generated sample)
    last_bundle: ModelBundle | None = None  # weights after the latest epoch (for "resume")
    result: ModelBundle | None = None
    optimizer: OptimizerState | None = None  # the optimizer state that goes with ``result``'s weights
    stopped_by: StoppedBy | None = None  # "user" (Stop pressed) or "patience" (no progress): the run ended early
    #: Surprise per token of a model that knows only the training pieces' token frequencies (the child's figure).
    chance_nll_per_token: float | None = None
    verdict: LearningVerdict | None = None  # did the run learn, against that chance and its accuracy curve
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    collected: bool = False  # the page has moved the result into the session's models
    model_key: str | None = None  # the result's name among the session's models
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _process: Any = field(default=None, repr=False)  # the child, while it runs

    # --- control ---------------------------------------------------------
    def start(self) -> "TrainingJob":
        self._thread = threading.Thread(target=self._watch, name=f"train-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self.status in _STATUS_ACTIVE:
                self.message = "Stopping after this batch…"

    @property
    def active(self) -> bool:
        return self.status in _STATUS_ACTIVE

    @property
    def pid(self) -> int | None:
        """The training process's id while it runs (for an operator, or a test that ends it)."""
        process = self._process
        return process.pid if process is not None else None

    def collect(self, models: dict[str, ModelBundle]) -> str | None:
        """Add the finished run's model to ``models`` (once) under a name with its short hash.

        The model is only added: the Generate page goes on with the model it uses until the user chooses
        this one ("Use this model").  Returns the name, or None when there is nothing to add (no result,
        or already collected).
        """
        with self._lock:
            if self.active or self.collected:
                return None
            self.collected = True
            if self.result is None:
                return None
            key = self.model_key = f"{self.result.name} ({self.result.short_hash[:6]})"
        models[key] = self.result
        return key

    def snapshot(self) -> JobSnapshot:
        """A consistent copy of the progress, for the page to draw."""
        with self._lock:
            return JobSnapshot(
                status=self.status, fraction=self.fraction, eta_s=self.eta_s, message=self.message,
                history={k: list(v) for k, v in self.history.items()},
                batch_losses=tuple(self.batch_losses), samples=tuple(self.samples), error=self.error,
                checkpoint=self.last_bundle, result=self.result, stopped_by=self.stopped_by,
                verdict=self.verdict, model_key=self.model_key,
            )

    # --- the watcher thread (in the server) --------------------------------
    def _watch(self) -> None:
        while not _TRAINING_SLOT.acquire(timeout=POLL_S):
            with self._lock:
                self.message = "Waiting: another training is running on this server; this one starts after it."
            if self._stop.is_set():
                self._cancelled()
                return
        try:
            # Not in the line of users' jobs (neurotunes.ui.queue): a training holds its core for minutes, and
            # at nice TRAINING_NICENESS the operating system serves every Generate and transcription first.
            with self._lock:
                self.status, self.message = "running", "Starting the trainer and TensorFlow…"
            self._run_child()
        except Exception as exc:  # a bug of ours: report it in the page, keep the app alive
            log.exception("training %s failed", self.name)
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            _TRAINING_SLOT.release()

    def _cancelled(self) -> None:
        with self._lock:
            self.status, self.message = "stopped", "Cancelled before it started."

    def _run_child(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        stop = ctx.Event()
        resume_files = self.resume_from.to_files() if self.resume_from is not None else None
        process = ctx.Process(
            target=_train_in_child, name=f"neurotunes-train-{self.name}", daemon=True,
            args=(send, stop, _dataset_to_wire(self.dataset), self.model_config, self.train_config, resume_files,
                  self.resume_optimizer, self.name, self.sample_every),
        )
        process.start()
        send.close()  # the child holds the only sending end now: its exit reads as end-of-file here
        self._process = process
        finished = False
        try:
            while not finished:
                if self._stop.is_set():
                    stop.set()
                if not receive.poll(POLL_S):
                    continue
                try:
                    message = receive.recv()
                except (EOFError, OSError):  # the child is gone without its last word
                    break
                finished = self._handle(message)
        finally:
            receive.close()
            process.join(EXIT_GRACE_S if finished else 1.0)
            if process.is_alive():
                process.kill()
                process.join()
            self._process = None
        if not finished:
            self._fail(_crash_message(process.exitcode))

    def _handle(self, message: tuple) -> bool:
        """Apply one message from the child; True when it was the last."""
        kind = message[0]
        if kind == "reading":
            _, done, total = message
            with self._lock:
                self.message = f"Reading the pieces: {done} of {total}…"
            return False
        if kind == "progress":
            p = message[1]
            with self._lock:
                self.fraction, self.eta_s = p.fraction, p.eta_s
                if p.batch is not None:
                    self.batch_losses.append((p.epoch - 1 + p.batch / max(p.batches, 1), p.loss))
                    del self.batch_losses[:-MAX_BATCH_POINTS]
                    if not self._stop.is_set():
                        self.message = (f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches} · "
                                        f"surprise {p.loss:.3f} per token (lower is better)")
            return False
        if kind == "epoch":
            _, epoch, files, sample = message
            bundle = ModelBundle.from_files(files, name=f"checkpoint after epoch {epoch}")
            with self._lock:
                self.history = bundle.metrics.curves
                self.last_bundle = bundle
                if sample is not None:
                    self.samples.append((epoch, Score.from_dict(sample)))
            return False
        if kind == "chance":
            with self._lock:
                self.chance_nll_per_token = message[1]
            return False
        if kind == "done":
            _, files, history, stopped_by, optimizer = message
            bundle = ModelBundle.from_files(files, name=self.name)
            first_epoch = self.resume_from.metrics.epochs if self.resume_from is not None else 0
            verdict = learning_verdict(bundle.metrics, self.chance_nll_per_token, first_epoch=first_epoch)
            with self._lock:
                self.result, self.optimizer, self.stopped_by = bundle, optimizer, stopped_by
                self.history = {k: list(v) for k, v in history.items()}
                self.fraction = 1.0
                self.status = "stopped" if stopped_by == "user" else "done"
                self.verdict = verdict
                self.message = _finished_message(stopped_by, self.train_config.patience, verdict)
            return True
        if kind == "failed":
            self._fail(message[1])
            return True
        raise ValueError(f"unknown message from the trainer: {kind!r}")

    def _fail(self, error: str) -> None:
        with self._lock:
            self.status, self.error, self.message = "failed", error, "Training failed."


def _finished_message(stopped_by: StoppedBy | None, patience: int, verdict: LearningVerdict | None = None) -> str:
    """Why the run ended and, when it measured enough to say, whether it learned: "Learned: it predicts the
    next note better than chance by 31%." or "Still learning: keep training (...)" instead of "Finished"."""
    epochs = f"{patience} epoch{'s' if patience != 1 else ''}"
    if stopped_by == "user":
        return "Stopped; kept the best weights so far." + (f" {verdict.message}" if verdict else "")
    if verdict is not None:
        if stopped_by == "patience":
            return f"{verdict.message} It stopped early, after no progress in {epochs}, keeping the best weights."
        return verdict.message
    if stopped_by == "patience":
        return f"Finished early: no progress in {epochs}, so it stopped and kept the best weights."
    return "Finished."


def _chance(dataset: Dataset | ShardSet, bundle: ModelBundle) -> float | None:
    """The chance bar for the verdict (a bonus: a failure to measure it never fails the run; shards, which are
    never read into memory, are judged by their accuracy curve alone)."""
    if isinstance(dataset, ShardSet):
        return None
    try:
        return chance_nll_per_token(dataset.train, dataset.validation, bundle)
    except (NeuroTunesError, ValueError) as exc:
        log.warning("could not measure the chance baseline: %s", exc)
        return None


def _crash_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"was ended by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was ended by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    return (f"the training process {how} before it finished. This is most often the computer running out of "
            "memory: try fewer pieces, a smaller model or a smaller batch, then train again.")


def _dataset_to_wire(dataset: Dataset | CorpusRecipe | ShardSet) -> dict[str, Any]:
    if isinstance(dataset, CorpusRecipe):  # read in the child: music21 never runs in the server
        return {"recipe": dataset.to_dict()}
    if isinstance(dataset, ShardSet):  # streamed from disk by the child
        return {"shards": str(dataset.folder)}
    return {"train": [s.to_dict() for s in dataset.train], "validation": [s.to_dict() for s in dataset.validation],
            "encoding": dataset.encoding.to_dict(), "description": dataset.description,
            "key_normalized": dataset.key_normalized}


def _dataset_from_wire(wire: dict[str, Any],
                       progress: Callable[[int, int], None] | None = None) -> Dataset | ShardSet:
    if "shards" in wire:
        return ShardSet.load(wire["shards"])
    if "recipe" in wire:
        return CorpusRecipe.from_dict(wire["recipe"]).build(progress)
    return Dataset(train=tuple(Score.from_dict(s) for s in wire["train"]),
                   validation=tuple(Score.from_dict(s) for s in wire["validation"]),
                   encoding=EncodingConfig.from_dict(wire["encoding"]), description=wire["description"],
                   key_normalized=wire["key_normalized"])


# --- the child process ----------------------------------------------------
def _train_in_child(conn, stop, dataset: dict[str, Any], model_config: ModelConfig, train_config: TrainConfig,
                    resume_files: dict[str, bytes] | None, resume_optimizer: OptimizerState | None,
                    name: str, sample_every: int) -> None:
    """Run :func:`~neurotunes.training.train` and report over ``conn``; the last message is
    ``("done", ...)`` or ``("failed", message)``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
    try:
        resume = ModelBundle.from_files(resume_files, name="the run to resume") if resume_files else None

        def on_epoch(checkpoint) -> None:
            sample = None
            if sample_every and checkpoint.epoch % sample_every == 0:
                try:
                    sample = generate(checkpoint.bundle, GenerateConfig(length=SAMPLE_NOTES, seed=checkpoint.epoch))
                except NeuroTunesError as exc:  # a sample is a bonus; training goes on
                    log.warning("sample after epoch %d failed: %s", checkpoint.epoch, exc)
            conn.send(("epoch", checkpoint.epoch, checkpoint.bundle.to_files(),
                       sample.to_dict() if sample is not None else None))

        # Nice: a training run is background work; the server's users (Generate, Transcribe) come first.
        os.nice(TRAINING_NICENESS)
        pieces = _dataset_from_wire(dataset, progress=lambda done, total: conn.send(("reading", done, total)))
        result = train(
            pieces, model_config, train_config,
            on_progress=lambda p: conn.send(("progress", p)), should_stop=stop.is_set, on_epoch=on_epoch,
            resume_from=resume, resume_optimizer=resume_optimizer, name=name,
        )
        conn.send(("chance", _chance(pieces, result.bundle)))
        conn.send(("done", result.bundle.to_files(), result.history, result.stopped_by, result.optimizer))
    except NeuroTunesError as exc:
        conn.send(("failed", str(exc)))
    except Exception as exc:  # a bug or an out-of-memory error inside TensorFlow: one line for the page
        log.exception("training %s failed", name)
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
