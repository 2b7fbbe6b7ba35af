"""The app's training job: a child process with progress, stop, resume, a queue and crash reports."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import FrozenInstanceError

import pytest

from neurotunes.config import ModelConfig, TrainConfig
from neurotunes.dataset import split_dataset
from neurotunes.ui.jobs import JobSnapshot, TrainingJob
from tests.conftest import ROOT, make_score

pytestmark = pytest.mark.slow

TINY_MODEL = ModelConfig(arch="lstm", units=8, layers=1, embedding_dim=4, dropout=0.0)


def tiny_dataset():
    pieces = [make_score(pitches=tuple(60 + ((i * k) % 12) for i in range(24)), step=0.25, dur=0.25)
              for k in range(1, 7)]
    return split_dataset(pieces, validation_fraction=0.2, seed=0, description="test pieces")


def tiny_config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=4, sequence_length=16, patience=0)


@pytest.fixture(autouse=True)
def training_slot_free():
    """A training runs one at a time per server process, and this is the pytest process: a run an earlier test
    started (a page's AppTest) may still hold the slot.  Each test here times its own job only."""
    from neurotunes.ui.jobs import _TRAINING_SLOT

    assert _TRAINING_SLOT.acquire(timeout=300), "an earlier test's training never ended"
    _TRAINING_SLOT.release()


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_training_runs_in_a_child_process_and_never_loads_tensorflow_here():
    """The server's process gets progress, samples and the model, but TensorFlow stays in the child."""
    code = (
        "import sys, time\n"
        "from neurotunes.ui.jobs import TrainingJob\n"
        "from tests.test_jobs import TINY_MODEL, tiny_config, tiny_dataset\n"
        "job = TrainingJob(tiny_dataset(), TINY_MODEL, tiny_config(2), name='child').start()\n"
        "pids = set()\n"
        "while job.active:\n"
        "    pids.add(job.pid)\n"
        "    time.sleep(0.05)\n"
        "print('RESULT', job.status, job.error, len(job.history['loss']), [e for e, _ in job.samples],\n"
        "      len(job.batch_losses) > 0, job.result.metrics.epochs_run, job.optimizer.iterations > 0,\n"
        "      'tensorflow' in sys.modules, len(pids - {None}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT done None 2 [1, 2] True 2 True False 1" in out.stdout, (out.stdout, out.stderr[-3000:])


def test_stop_then_resume_continues_epochs_and_adam():
    from neurotunes.training import prepare_arrays

    dataset = tiny_dataset()
    first = TrainingJob(dataset, TINY_MODEL, tiny_config(500), name="long").start()
    try:
        wait_until(lambda: len(first.snapshot().history.get("loss", [])) >= 2)
    except AssertionError:
        first.stop()  # not left running for the tests after this one
        raise
    snap = first.snapshot()
    assert isinstance(snap, JobSnapshot) and snap.active and snap.checkpoint_epoch >= 2
    with pytest.raises(FrozenInstanceError):
        snap.status = "done"  # type: ignore[misc]
    first.stop()
    wait_until(lambda: not first.active)
    assert first.status == "stopped", first.error
    assert first.result is not None and first.optimizer is not None
    done = len(first.history["loss"])

    resumed = TrainingJob(dataset, TINY_MODEL, tiny_config(1), name="long", resume_from=first.result,
                          resume_optimizer=first.optimizer).start()
    wait_until(lambda: not resumed.active)
    assert resumed.status == "done", resumed.error
    assert len(resumed.history["loss"]) == done + 1  # history appended, numbering continued
    assert resumed.history["loss"][:done] == first.history["loss"]
    assert resumed.result.info.initial_epoch == done
    assert resumed.samples[-1][0] == done + 1  # the sample is labelled with the run's epoch number
    steps = math.ceil(len(prepare_arrays(dataset, tiny_config(1)).inputs) / 4)
    assert resumed.optimizer.iterations == first.optimizer.iterations + steps  # Adam's step count went on


def test_queue_cancel_and_a_killed_child_is_a_failed_job_with_a_message():
    dataset = tiny_dataset()
    running = TrainingJob(dataset, TINY_MODEL, tiny_config(1000), name="running").start()
    wait_until(lambda: running.pid is not None and running.snapshot().batch_losses)
    queued = TrainingJob(dataset, TINY_MODEL, tiny_config(1), name="queued").start()
    wait_until(lambda: "another training is running" in queued.snapshot().message, timeout=5)
    assert queued.status == "queued"
    queued.stop()
    wait_until(lambda: not queued.active, timeout=5)
    assert queued.status == "stopped" and queued.result is None

    os.kill(running.pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does
    wait_until(lambda: not running.active, timeout=15)
    assert running.status == "failed"
    assert "SIGKILL" in running.error and "memory" in running.error
    assert running.pid is None


def test_a_training_never_takes_a_users_place_in_the_line_of_heavy_jobs():
    """Training runs niced in its own one-at-a-time line: while it runs, users' Generate jobs keep every slot
    (it used to hold one of two slots for minutes, and five users' takes queued behind one another)."""
    import contextlib

    from neurotunes.ui.queue import HEAVY_JOBS

    with contextlib.ExitStack() as busy:  # other users' Generate/Transcribe work holds every core
        for _ in range(HEAVY_JOBS.slots):
            busy.enter_context(HEAVY_JOBS.slot())
        job = TrainingJob(tiny_dataset(), TINY_MODEL, tiny_config(1), name="background").start()
        wait_until(lambda: job.status == "running" or not job.active, timeout=10)
        assert job.status == "running", job.snapshot().message
        assert HEAVY_JOBS.running == HEAVY_JOBS.slots and HEAVY_JOBS.waiting() == 0
        job.stop()
        wait_until(lambda: not job.active, timeout=60)
    assert HEAVY_JOBS.running == 0 and HEAVY_JOBS.waiting() == 0


@pytest.mark.parametrize("stopped_by, status, says", [
    ("user", "stopped", "Stopped; kept the best weights so far."),
    ("patience", "done", "Finished early: no progress in 2 epochs"),
    (None, "done", "Finished."),
])
def test_the_job_says_why_a_run_ended(stopped_by, status, says):
    """Only Stop makes a "stopped" (resumable) run; early stopping by patience finishes it and says so."""
    from tests.test_bundle import _small_bundle

    job = TrainingJob(tiny_dataset(), TINY_MODEL, TrainConfig(patience=2), name="t")
    assert job._handle(("done", _small_bundle().to_files(), {"loss": [1.0]}, stopped_by, None))
    snap = job.snapshot()
    assert (snap.status, snap.stopped_by) == (status, stopped_by) and snap.message.startswith(says)


def test_a_corpus_recipe_is_read_in_the_training_process_not_the_server():
    """The quick Bach source crosses to the child as a recipe (a few fields), never as parsed pieces: parsing
    chorales in the server held Python's lock for seconds and froze other users' pages."""
    from neurotunes.dataset import CorpusRecipe
    from neurotunes.ui.jobs import _dataset_from_wire, _dataset_to_wire

    recipe = CorpusRecipe("bach", limit=6, validation_fraction=0.2, key_normalization=True)
    wire = _dataset_to_wire(recipe)
    assert wire == {"recipe": {"corpus": "bach", "limit": 6, "validation_fraction": 0.2, "key_normalization": True,
                               "seed": 0, "skip_held_out": False, "encoding": recipe.encoding.to_dict()}}
    seen = []
    dataset = _dataset_from_wire(wire, progress=lambda done, total: seen.append((done, total)))
    assert len(dataset.train) + len(dataset.validation) == 6 and dataset.key_normalized
    assert seen and seen[-1][0] == seen[-1][1]
