"""Fit a sequence model on a :class:`~neurotunes.dataset.Dataset` (in memory) or a
:class:`~neurotunes.shards.ShardSet` (streamed from prepared TFRecord shards).

Every chunk of ``sequence_length`` tokens is fed with a target at every step
(``return_sequences=True``), which trains about 20x faster per epoch than the
classic one-target-per-window recipe.  Progress goes to a callback; a
``should_stop`` callable lets a UI stop the run, keeping the best weights.

A run can be resumed: the epoch numbering and the history continue from the
bundle's, and Adam's step count and moments continue from an
:class:`OptimizerState` (plain float arrays, saved beside the bundle as
``.optimizer.npz`` by :meth:`Checkpoint.save`).  A loss or weights that become
NaN or infinite stop the run with :class:`~neurotunes.errors.TrainingDiverged`:
non-finite weights never leave this module.
"""

from __future__ import annotations

import io
import logging
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Mapping

import numpy as np

from ._quiet import import_tensorflow
from .bundle import BundleInfo, BundleMetrics, ModelBundle, load_bundle
from .constants import SHIPPED_MODELS
from .config import ModelConfig, TrainConfig
from .dataset import Dataset, augment_transpose, make_windows, token_stream
from .encodings import EncodingConfig, Vocabulary, encoding_for
from .errors import BadConfig, BadModel, DatasetError, TrainingDiverged
from .models import build_model
from .records import DatasetStats
from .shards import ShardSet

log = logging.getLogger(__name__)

#: The optimizer state's file inside a checkpoint folder.  The leading dot matters:
#: ``ModelBundle.load`` skips dot-files in a folder (and refuses any other extra file),
#: so a checkpoint folder still loads as a plain bundle everywhere else.
OPTIMIZER_FILE = ".optimizer.npz"


@dataclass(frozen=True)
class Progress:
    """One progress report: after a batch (``batch`` set) or after an epoch.

    ``epoch`` and ``epochs`` count the whole run, a resumed run's earlier epochs
    included (epoch 4/6 after resuming a 3-epoch run for 3 more); ``initial_epoch``
    is how many of them were done before this call to :func:`train`.
    """

    epoch: int  # 1-based
    epochs: int
    batch: int | None
    batches: int
    loss: float
    accuracy: float
    val_loss: float | None = None
    val_accuracy: float | None = None
    elapsed_s: float = 0.0
    initial_epoch: int = 0

    @property
    def fraction(self) -> float:
        """Share of the whole run done (a resumed run starts part-way)."""
        done = (self.epoch - 1) + ((self.batch or self.batches) / max(self.batches, 1))
        return min(done / self.epochs, 1.0)

    @property
    def eta_s(self) -> float | None:
        """Seconds left, from this call's own pace (its elapsed time covers only its own epochs)."""
        todo = self.epochs - self.initial_epoch
        done = self.fraction * self.epochs - self.initial_epoch
        return self.elapsed_s * (todo - done) / done if done > 0 else None


@dataclass(frozen=True, eq=False)  # arrays: compare them with np.array_equal
class OptimizerState:
    """Adam's step count and moment estimates: what a resumed run needs besides the weights.

    ``slots`` are the optimizer's variables after its step counter, in Keras' order
    (``m`` and ``v`` for each trainable weight).  Stored as plain arrays in an ``.npz``
    read with ``allow_pickle=False``, like the bundle's weights.
    """

    iterations: int
    slots: tuple[np.ndarray, ...] = field(repr=False)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, iterations=np.asarray(self.iterations, dtype=np.int64),
                 **{f"s{i:03d}": np.asarray(a, dtype=np.float32) for i, a in enumerate(self.slots)})
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = OPTIMIZER_FILE) -> "OptimizerState":
        """Read :meth:`to_bytes`' output.

        Raises
        ------
        BadModel
            Not a plain array file, unexpected names, wrong types or non-finite values.
        """
        fix = f"delete {name} to resume without it (Adam then starts afresh)"
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                names = sorted(npz.files)
                arrays = {k: np.asarray(npz[k]) for k in names}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            # allow_pickle=False makes numpy refuse object arrays (pickles) with ValueError.
            raise BadModel(f"{name} is not a plain array file ({exc}); {fix}") from None
        slot_names = [f"s{i:03d}" for i in range(len(names) - 1)]
        if names != sorted(["iterations", *slot_names]):
            raise BadModel(f"{name} has unexpected array names; {fix}")
        steps = arrays["iterations"]
        if steps.shape != () or steps.dtype != np.int64 or int(steps) < 0:
            raise BadModel(f"{name}: the step count must be one whole number of at least 0; {fix}")
        slots = tuple(arrays[k] for k in slot_names)
        if any(a.dtype != np.float32 or not np.isfinite(a).all() for a in slots):
            raise BadModel(f"{name}: the optimizer's moments must be finite float32 arrays; {fix}")
        return cls(iterations=int(steps), slots=slots)


@dataclass(frozen=True)
class Checkpoint:
    """A model after ``epoch`` epochs and, when known, the optimizer state that goes with its weights."""

    epoch: int
    bundle: ModelBundle
    optimizer: OptimizerState | None = None

    def save(self, directory: str | Path) -> Path:
        """Write the bundle folder, with the optimizer state as its hidden :data:`OPTIMIZER_FILE`."""
        directory = self.bundle.save(directory)
        stale = directory / OPTIMIZER_FILE
        if self.optimizer is not None:
            stale.write_bytes(self.optimizer.to_bytes())
        elif stale.exists():  # never pair these weights with another run's moments
            stale.unlink()
        return directory

    @classmethod
    def load(cls, source: str | Path) -> "Checkpoint":
        """A bundle folder (with its optimizer state, if saved), a .zip, or a shipped model's name.

        Raises
        ------
        BadModel
            The bundle or its optimizer state is unreadable.
        """
        bundle = load_bundle(source)
        state_file = Path(source) / OPTIMIZER_FILE
        optimizer = None
        if str(source) not in SHIPPED_MODELS and state_file.is_file():
            optimizer = OptimizerState.from_bytes(state_file.read_bytes(), name=str(state_file))
        return cls(epoch=bundle.metrics.epochs, bundle=bundle, optimizer=optimizer)


#: Why a run ended before its last epoch: Stop was pressed (``should_stop``), or ``patience``
#: epochs passed without improvement.  None: it ran every epoch.
StoppedBy = Literal["user", "patience"]


@dataclass
class TrainResult:
    bundle: ModelBundle
    history: dict[str, list[float]] = field(default_factory=dict)
    stopped_by: StoppedBy | None = None
    optimizer: OptimizerState | None = None  # the state that goes with the bundle's (best) weights

    @property
    def checkpoint(self) -> Checkpoint:
        """The result as something to save and resume from: numbered by the epochs run (the history's
        length), holding the best of their weights and the optimizer state of that moment."""
        return Checkpoint(len(self.history.get("loss", [])), self.bundle, self.optimizer)


@dataclass(frozen=True, eq=False)  # arrays: compare them with np.array_equal
class TrainingArrays:
    """What the fit loop consumes: the vocabulary and the token chunks, inputs and next-token targets.

    ``inputs[i]`` is a chunk of ``sequence_length`` token ids and ``targets[i]`` the same chunk
    one token later (a target at every step).  The validation arrays are None when the dataset
    has no validation pieces.
    """

    vocab: Vocabulary
    inputs: np.ndarray = field(repr=False)
    targets: np.ndarray = field(repr=False)
    val_inputs: np.ndarray | None = field(default=None, repr=False)
    val_targets: np.ndarray | None = field(default=None, repr=False)
    val_notes_per_token: float = 0.0  # converts the validation loss per token into one per note

    @property
    def has_validation(self) -> bool:
        return self.val_inputs is not None


def prepare_arrays(dataset: Dataset, train_config: TrainConfig) -> TrainingArrays:
    """Token windows for training and validation (augmentation on the training pieces only)."""
    train_scores = augment_transpose(dataset.train, train_config.transpose_semitones)
    encoding = encoding_for(dataset.encoding)
    vocab = encoding.vocabulary([*train_scores, *dataset.validation])
    x, y = make_windows(token_stream(train_scores, dataset.encoding, vocab), train_config.sequence_length)
    if not dataset.validation:
        return TrainingArrays(vocab, x, y)
    vx, vy = make_windows(
        token_stream(dataset.validation, dataset.encoding, vocab), train_config.sequence_length, what="validation"
    )
    return TrainingArrays(vocab, x, y, vx, vy, encoding.notes_per_token(dataset.validation))


@dataclass(frozen=True, eq=False)
class _Feed:
    """What the fit loop reads, wherever it comes from: batches, how many make an epoch, validation."""

    vocab: Vocabulary
    encoding: EncodingConfig
    batches: object  # a tf.data.Dataset of (inputs, targets) batches
    steps: int
    validation: object | None
    validation_steps: int | None  # None: the validation data's own length
    val_notes_per_token: float
    stats: DatasetStats


def _feed(data: Dataset | ShardSet, train_config: TrainConfig, *, multiworker: bool = False,
          workers: int = 1) -> _Feed:
    """The batches to fit on.  Several workers must take the same number of steps with whole batches, so for a
    multi-worker run every epoch and every validation pass is a fixed number of whole batches of repeated data;
    shard files are divided between the workers (each reads only its own), other data by element."""
    tf = import_tensorflow()
    length, batch = train_config.sequence_length, train_config.batch_size
    if isinstance(data, ShardSet):
        if train_config.transpose_semitones:
            raise BadConfig("shards are written once, so they cannot be transposed while training: prepare them "
                            "with the transpositions you want, or train without --transpose")
        windows = data.windows_in("train", length)
        if windows < batch:
            raise DatasetError(f"the shards' training pieces give {windows} windows of {length} tokens, fewer than "
                               f"one batch of {batch}; lower the sequence length or the batch size")
        batches = data.windows("train", length, batch, seed=train_config.seed, repeat=True)
        by_file = len(data.files["train"]) >= workers
        val_windows = data.windows_in("validation", length)
        validation = None
        if val_windows >= (batch if multiworker else 1):
            validation = data.windows("validation", length, batch, shuffle=False, whole_batches=multiworker,
                                      repeat=multiworker)
        steps = train_config.max_steps_per_epoch or windows // batch
        vocab, encoding, npt, stats = data.vocab, data.encoding, data.notes_per_token("validation"), data.stats()
    else:
        arrays = prepare_arrays(data, train_config)
        x, y = arrays.inputs, arrays.targets
        batches = (tf.data.Dataset.from_tensor_slices((x, y))
                   .shuffle(len(x), seed=train_config.seed, reshuffle_each_iteration=True)
                   .batch(batch, drop_remainder=multiworker))
        steps = math.ceil(len(x) / batch)
        if multiworker and len(x) < batch:
            raise DatasetError(f"the training data gives {len(x)} windows of {length} tokens, fewer than one batch "
                               f"of {batch}; several workers need whole batches")
        if train_config.max_steps_per_epoch or multiworker:  # a fixed budget of batches, cycling through the data
            steps = train_config.max_steps_per_epoch or len(x) // batch
            batches = batches.repeat()
        batches = batches.prefetch(tf.data.AUTOTUNE)
        by_file, val_windows = False, 0 if arrays.val_inputs is None else len(arrays.val_inputs)
        validation = None
        if arrays.has_validation and val_windows >= (batch if multiworker else 1):
            validation = tf.data.Dataset.from_tensor_slices((arrays.val_inputs, arrays.val_targets)).batch(
                batch, drop_remainder=multiworker)
            validation = validation.repeat() if multiworker else validation
        vocab, encoding, npt, stats = arrays.vocab, data.encoding, arrays.val_notes_per_token, data.stats()
    validation_steps = None
    if multiworker:
        policy = tf.data.experimental.AutoShardPolicy
        batches = batches.with_options(_shard_options(policy.FILE if by_file else policy.DATA))
        if validation is not None:
            validation = validation.with_options(_shard_options(policy.DATA))
            validation_steps = val_windows // batch
    return _Feed(vocab, encoding, batches, steps, validation, validation_steps, npt, stats)


def _shard_options(policy):
    tf = import_tensorflow()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return options


def train(
    dataset: Dataset | ShardSet,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_epoch: Callable[[Checkpoint], None] | None = None,
    resume_from: ModelBundle | None = None,
    resume_optimizer: OptimizerState | None = None,
    name: str = "model",
) -> TrainResult:
    """Train a model and return it as a :class:`ModelBundle` with its curves.

    Parameters
    ----------
    dataset, model_config, train_config
        What to learn from (pieces in memory, or prepared shards streamed from disk), the architecture, and
        how to fit it.  When resuming, ``train_config.epochs`` is the number of epochs to *add*.
    on_progress
        Called after every batch and every epoch.
    should_stop
        Polled after every batch; returning True ends training, keeping the best weights so far.
    on_epoch
        Called after every epoch with a :class:`Checkpoint` of the current weights and
        optimizer state: checkpoints and samples.
    resume_from
        Continue from this bundle's weights (same architecture and encoding); its history
        is continued, and the epochs are numbered on from its last one.
    resume_optimizer
        Adam's state saved with ``resume_from`` (its step count and moments continue);
        without it Adam starts afresh on the resumed weights.
    name
        The model's display name.

    Returns
    -------
    TrainResult
        The best weights of this call's epochs (lowest validation loss, else training loss),
        the whole history and the optimizer state that goes with those weights.

    Raises
    ------
    DatasetError
        If the data is too small for one sequence.
    BadModel
        ``resume_from`` or ``resume_optimizer`` does not fit the architecture or encoding,
        or its weights are not finite.
    TrainingDiverged
        The loss or the weights became NaN or infinite; the message names the epoch and batch.
    """
    tf = import_tensorflow()
    train_config = train_config or TrainConfig()
    # First: a multi-worker strategy must exist before anything else runs on TensorFlow.
    tf.keras.utils.set_random_seed(train_config.seed)  # seeds, not ops: the data's shuffle order depends on it
    strategy = _distribution_strategy(train_config.strategy)
    multiworker = train_config.strategy == "multiworker"
    feed = _feed(dataset, train_config, multiworker=multiworker, workers=worker_role()[1] if multiworker else 1)
    vocab = feed.vocab
    model_config = model_config or ModelConfig()
    if model_config.vocab_size != len(vocab):
        model_config = ModelConfig.from_dict({**model_config.to_dict(), "vocab_size": len(vocab)})

    prior: dict[str, list[float]] = {}
    if resume_from is not None:
        if resume_from.model != model_config or resume_from.encoding != feed.encoding:
            raise BadModel("the run to resume used another architecture or encoding; start a new run instead")
        if not _all_finite(resume_from.weights):
            raise BadModel("the run to resume has weights that are NaN or infinite, so it cannot go on; "
                           "start a new run, with a lower learning rate")
        prior = resume_from.metrics.curves
    initial_epoch = len(prior.get("loss", []))
    total_epochs = initial_epoch + train_config.epochs
    tf.keras.utils.set_random_seed(train_config.seed)  # again: the model's initial weights, whatever ran since
    with strategy.scope():
        model = build_model(model_config)
        if resume_from is not None:
            model.set_weights(list(resume_from.weights))
        model.compile(
            optimizer=tf.keras.optimizers.Adam(train_config.learning_rate, clipnorm=1.0),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        if resume_optimizer is not None:
            _restore_optimizer(model.optimizer, model.trainable_variables, resume_optimizer)
    ds, steps, val_data = feed.batches, feed.steps, feed.validation

    info = BundleInfo(
        name=name,
        dataset=feed.stats,
        training=train_config.to_dict(),
        resumed_from=resume_from.hash if resume_from is not None else None,
        initial_epoch=initial_epoch,
        replicas=int(strategy.num_replicas_in_sync),
        # Written as null when not resumed, as every bundle trained so far has it (the JSON is hashed).
        null_keys=frozenset() if resume_from is not None else frozenset({"resumed_from"}),
    )

    def snapshot(weights: list[np.ndarray], metrics: BundleMetrics) -> ModelBundle:
        return ModelBundle(
            model=model_config,
            encoding=feed.encoding,
            vocab=vocab,
            weights=tuple(np.asarray(w, dtype=np.float32) for w in weights),
            metrics=metrics,
            info=info.with_values(trained_at=time.strftime("%Y-%m-%d %H:%M:%S")),
        )

    def checkpoint(epoch: int, weights: list[np.ndarray], history: dict[str, list[float]]) -> None:
        if on_epoch is not None:
            bundle = snapshot(weights, BundleMetrics(history={k: list(v) for k, v in history.items()}))
            on_epoch(Checkpoint(epoch, bundle, _optimizer_state(model.optimizer)))

    callback = _progress_callback(
        total_epochs, steps, on_progress, should_stop, train_config.patience,
        initial_epoch=initial_epoch, prior_history=prior, on_checkpoint=checkpoint,
        learning_rate=train_config.learning_rate,
    )
    callbacks = [callback, *_schedule_callbacks(train_config, has_validation=val_data is not None,
                                                total_epochs=total_epochs)]
    model.fit(
        ds,
        epochs=total_epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps,
        validation_data=val_data,
        validation_steps=feed.validation_steps,
        callbacks=callbacks,
        verbose=0,
    )
    weights = callback.best_weights if callback.best_weights is not None else model.get_weights()
    if not _all_finite(weights):  # the callback checks every epoch; this is the last line of defence
        raise TrainingDiverged(_diverged_message("after the last epoch", "the weights became NaN or infinite",
                                                 train_config.learning_rate))
    history = callback.history
    metrics = BundleMetrics(history=history, epochs_run=len(history.get("loss", [])))
    # The figures describe the weights returned: this call's best epoch (a resumed run's earlier
    # epochs, or a validation set it had and this call lacks, say nothing about them).
    logs = callback.best_logs if callback.best_weights is not None else callback.last_logs
    if val_data is not None and "val_loss" in logs:
        npt = feed.val_notes_per_token
        metrics = metrics.with_values(
            best_val_loss_per_token=logs["val_loss"],
            val_nll_per_note=logs["val_loss"] / npt if npt else None,
            val_accuracy=logs.get("val_accuracy"),
        )
    optimizer = callback.best_optimizer if callback.best_weights is not None else _optimizer_state(model.optimizer)
    return TrainResult(bundle=snapshot(weights, metrics), history=history, stopped_by=callback.stopped_by,
                       optimizer=optimizer)


def _all_finite(weights) -> bool:
    return all(np.isfinite(np.asarray(w)).all() for w in weights)


def _optimizer_state(optimizer) -> OptimizerState:
    iterations = optimizer.iterations
    slots = tuple(np.asarray(v.numpy(), dtype=np.float32) for v in optimizer.variables if v is not iterations)
    return OptimizerState(iterations=int(iterations.numpy()), slots=slots)


def _restore_optimizer(optimizer, trainable_variables, state: OptimizerState) -> None:
    """Give a freshly compiled Adam the saved step count and moments (inside the strategy's scope)."""
    optimizer.build(trainable_variables)
    slots = [v for v in optimizer.variables if v is not optimizer.iterations]
    if [tuple(v.shape) for v in slots] != [tuple(a.shape) for a in state.slots]:
        raise BadModel("the saved optimizer state does not fit this model; delete it (or resume from the "
                       "bundle alone) to continue with a fresh optimizer")
    optimizer.iterations.assign(state.iterations)
    for variable, value in zip(slots, state.slots):
        variable.assign(value)


def _diverged_message(where: str, what: str, learning_rate: float) -> str:
    return (f"training stopped {where}: {what}, so the weights are no longer usable. Lower the learning "
            f"rate (this run used {learning_rate:g}; try {max(learning_rate / 10, 1e-6):g}) and check that "
            "the training pieces are real music (no empty or broken files); checkpoints saved before this "
            "point are still good to resume from.")


def _distribution_strategy(name: str):
    """``"mirrored"``: synchronous data parallelism over every GPU (or every logical CPU when there is
    no GPU, which is how the tests exercise it); ``"multiworker"``: the same over several processes or
    machines, each running the same training, as ``TF_CONFIG`` describes them (see :func:`worker_role`);
    ``"default"``: one device."""
    tf = import_tensorflow()

    if name == "multiworker":
        role = worker_role()
        if role is None:
            raise BadConfig("multi-worker training needs TF_CONFIG: the cluster's workers (host:port each) and "
                            "this worker's index, e.g. {\"cluster\": {\"worker\": [\"host1:12345\", "
                            "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}")
        log.info("multi-worker training: worker %d of %d", role[0] + 1, role[1])
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name != "mirrored":
        return tf.distribute.get_strategy()
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    log.info("mirrored training over %s", devices)
    return tf.distribute.MirroredStrategy(devices=devices)


def worker_role() -> tuple[int, int] | None:
    """``(this worker's index, number of workers)`` from ``$TF_CONFIG``; None when it is unset or names no
    workers.  Worker 0 is the chief: the one that writes the model.

    Raises
    ------
    BadConfig
        ``TF_CONFIG`` is not JSON of the shape TensorFlow reads.
    """
    import json
    import os

    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = list(config["cluster"]["worker"])
        task = config.get("task", {})
        index = int(task.get("index", 0))
        if task.get("type", "worker") not in ("worker", "chief"):
            raise ValueError("only workers train")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadConfig(f"TF_CONFIG is not a cluster description TensorFlow reads ({exc})") from None
    if not workers:
        return None
    if not 0 <= index < len(workers):
        raise BadConfig(f"TF_CONFIG's task index {index} is not one of its {len(workers)} workers")
    return index, len(workers)


def _schedule_callbacks(train_config: TrainConfig, *, has_validation: bool, total_epochs: int) -> list:
    """Learning-rate schedule: constant, halve on a plateau, or cosine decay to 5% over the whole run
    (a resumed run's epochs count on, so the curve continues where it was)."""
    tf = import_tensorflow()

    if train_config.lr_schedule == "plateau":
        return [tf.keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss" if has_validation else "loss", factor=0.5, patience=1, min_lr=1e-5, verbose=0)]
    if train_config.lr_schedule == "cosine":
        base = train_config.learning_rate
        return [tf.keras.callbacks.LearningRateScheduler(
            lambda epoch: base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * epoch / max(total_epochs, 1)))))]
    return []


def _progress_callback(
    epochs: int,
    batches: int,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    patience: int,
    *,
    initial_epoch: int = 0,
    prior_history: Mapping[str, list[float]] | None = None,
    on_checkpoint: Callable[[int, list, dict], None] | None = None,
    learning_rate: float = 0.0,
):
    """A Keras callback that reports progress, honours a stop request, early-stops
    after ``patience`` epochs without improvement, remembers the best weights (and the
    optimizer state with them), and stops the run when the loss or weights stop being finite."""
    tf = import_tensorflow()

    class ProgressCallback(tf.keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float]] = {k: list(v) for k, v in (prior_history or {}).items()}
            self.best_weights = None
            self.best_optimizer: OptimizerState | None = None
            self.best_logs: dict[str, float] = {}
            self.last_logs: dict[str, float] = {}
            self.best_loss = math.inf
            self.best_epoch = initial_epoch  # patience counts from this call's start
            self.stopped_by: StoppedBy | None = None
            self.start = time.monotonic()
            self.epoch = initial_epoch

        def _report(self, epoch: int, batch: int | None, logs: Mapping[str, float]) -> None:
            if on_progress:
                on_progress(Progress(
                    epoch, epochs, batch, batches,
                    float(logs.get("loss", math.nan)), float(logs.get("accuracy", math.nan)),
                    logs.get("val_loss") if batch is None else None,
                    logs.get("val_accuracy") if batch is None else None,
                    elapsed_s=time.monotonic() - self.start, initial_epoch=initial_epoch,
                ))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            loss = float(logs.get("loss", 0.0))
            if not math.isfinite(loss):  # Keras' running mean: it stays NaN once one batch is
                raise TrainingDiverged(_diverged_message(
                    f"at epoch {self.epoch}, batch {batch + 1}",
                    f"the loss became {'NaN (not a number)' if math.isnan(loss) else 'infinite'}", learning_rate))
            self._report(self.epoch, batch + 1, logs)
            if should_stop and should_stop():
                self.stopped_by = "user"
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            weights = self.model.get_weights()
            # A finite loss can still come with a last update that broke the weights; check them
            # before anything is kept or checkpointed (2 x LSTM 256, 0.9 M weights: 1.4 ms to fetch,
            # 0.2 ms to check, once an epoch).
            bad = [k for k in ("loss", "val_loss") if k in logs and not math.isfinite(logs[k])]
            if bad or not _all_finite(weights):
                what = (f"the {bad[0].replace('_', ' ')} became NaN or infinite" if bad
                        else "the weights became NaN or infinite")
                raise TrainingDiverged(_diverged_message(f"at the end of epoch {epoch + 1}", what, learning_rate))
            for k, v in logs.items():
                self.history.setdefault(k, []).append(v)
            self.last_logs = logs
            watched = logs.get("val_loss", logs.get("loss", math.inf))
            if watched < self.best_loss:
                self.best_loss, self.best_epoch = watched, epoch + 1
                self.best_weights, self.best_logs = weights, logs
                self.best_optimizer = _optimizer_state(self.model.optimizer)
            elif patience and epoch + 1 - self.best_epoch >= patience:
                log.info("early stop: no improvement for %d epochs", patience)
                self.stopped_by = self.stopped_by or "patience"
                self.model.stop_training = True
            self._report(epoch + 1, None, logs)
            if on_checkpoint is not None:
                on_checkpoint(epoch + 1, weights, self.history)

    return ProgressCallback()
