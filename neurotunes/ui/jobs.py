"""Training in a background thread, so it keeps going while the user moves between pages.

A :class:`TrainingJob` lives in the user's session; a page fragment polls it.
One training runs per process at a time (a small host has a couple of cores):
the others wait in line and say so.  TensorFlow releases the GIL while it
computes, so other users' pages stay responsive.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..bundle import ModelBundle
from ..config import GenerateConfig, ModelConfig, TrainConfig
from ..dataset import Dataset
from ..errors import NeuroTunesError
from ..score import Score

log = logging.getLogger(__name__)

#: One training at a time per process.
_TRAINING_SLOT = threading.Semaphore(1)
#: Notes in the sample played after an epoch.
SAMPLE_NOTES = 48
#: Keep at most this many per-batch losses for the smoothed curve.
MAX_BATCH_POINTS = 2000


@dataclass
class TrainingJob:
    dataset: Dataset
    model_config: ModelConfig
    train_config: TrainConfig
    name: str
    resume_from: ModelBundle | None = None
    sample_every: int = 1

    status: str = "queued"  # queued -> running -> done | stopped | failed
    fraction: float = 0.0
    eta_s: float | None = None
    message: str = "Waiting for the trainer…"
    history: dict[str, list[float]] = field(default_factory=dict)
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch position, loss)
    samples: list[tuple[int, Score]] = field(default_factory=list)  # (epoch, generated sample)
    last_bundle: ModelBundle | None = None  # weights after the latest epoch (for "resume")
    result: ModelBundle | None = None
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    collected: bool = False  # the page has moved the result into the session's models
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    # --- control ---------------------------------------------------------
    def start(self) -> "TrainingJob":
        self._thread = threading.Thread(target=self._run, name=f"train-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self.status in ("queued", "running"):
                self.message = "Stopping after this batch…"

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the progress, for the page to draw."""
        with self._lock:
            return {
                "status": self.status, "fraction": self.fraction, "eta_s": self.eta_s, "message": self.message,
                "history": {k: list(v) for k, v in self.history.items()},
                "batch_losses": list(self.batch_losses), "samples": list(self.samples), "error": self.error,
            }

    # --- the thread ------------------------------------------------------
    def _run(self) -> None:
        from ..generate import generate
        from ..training import train

        while not _TRAINING_SLOT.acquire(timeout=0.5):
            if self._stop.is_set():
                with self._lock:
                    self.status, self.message = "stopped", "Cancelled before it started."
                return
        try:
            with self._lock:
                self.status, self.message = "running", "Preparing data and starting TensorFlow…"

            def on_progress(p) -> None:
                with self._lock:
                    self.fraction, self.eta_s = p.fraction, p.eta_s
                    if p.batch is not None:
                        self.batch_losses.append((p.epoch - 1 + p.batch / max(p.batches, 1), p.loss))
                        del self.batch_losses[:-MAX_BATCH_POINTS]
                        self.message = f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches} · loss {p.loss:.3f}"

            def on_epoch(epoch: int, bundle: ModelBundle) -> None:
                sample = None
                if self.sample_every and epoch % self.sample_every == 0:
                    try:
                        sample = generate(bundle, GenerateConfig(length=SAMPLE_NOTES, seed=epoch))
                    except NeuroTunesError as exc:  # a sample is a bonus; training goes on
                        log.warning("sample after epoch %d failed: %s", epoch, exc)
                with self._lock:
                    self.history = {k: list(v) for k, v in bundle.metrics.get("history", {}).items()}
                    self.last_bundle = bundle
                    if sample is not None:
                        self.samples.append((epoch, sample))

            result = train(
                self.dataset, self.model_config, self.train_config,
                on_progress=on_progress, should_stop=self._stop.is_set, on_epoch=on_epoch,
                resume_from=self.resume_from, name=self.name,
            )
            with self._lock:
                self.result = result.bundle
                self.history = {k: list(v) for k, v in result.history.items()}
                self.fraction = 1.0
                self.status = "stopped" if result.stopped_early else "done"
                self.message = ("Stopped; kept the best weights so far." if result.stopped_early
                                else "Finished.")
        except NeuroTunesError as exc:
            with self._lock:
                self.status, self.error = "failed", str(exc)
        except Exception as exc:  # a bug or an out-of-memory: report it in the page, keep the app alive
            log.exception("training %s failed", self.name)
            with self._lock:
                self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            _TRAINING_SLOT.release()
