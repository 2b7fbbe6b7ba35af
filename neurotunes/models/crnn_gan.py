"""``crnn_gan``: C-RNN-GAN (Mogren 2016), an LSTM generator trained against a bidirectional-LSTM critic.

The generator *is* the ``lstm`` stack (embedding -> LSTM layers -> logits): same weights, same
order, same exact NumPy stepper, so a bundle holds only the generator and samples, beam search
and metrics work unchanged.  What differs is how it is fitted.  :meth:`CRNNGAN.build` returns a
``tf.keras.Model`` whose ``call`` is the generator and whose ``train_step`` does, per batch:

1. **Maximum likelihood**: the usual cross-entropy on the real chunk (teacher forcing), weighted
   by ``mle_weight``: 1 during the warm-up, then decaying to :data:`MLE_FLOOR`, never to zero, so
   the model stays a language model whose validation NLL compares with every other model's.
2. **Free running**: the generator is primed with the chunk's first :data:`PRIME_TOKENS` tokens
   and then writes :data:`FREE_RUN_TOKENS` on its own.  Each token is a straight-through
   Gumbel-softmax sample (Jang et al. 2017): the forward pass feeds back an exact one-hot sample
   of the model's distribution (temperature 1), the backward pass the gradient of the soft sample
   at :data:`GUMBEL_TEMPERATURE`.  Tokens are discrete where Mogren's notes were continuous
   (pitch, length, intensity); this is what lets the critic's gradient reach the generator.
3. **The critic**: a bidirectional LSTM over one-hot token sequences (prime + continuation; real
   continuations and generated ones share the prime, so it judges the continuation in context)
   with a decision at every step, averaged (Mogren's discriminator).  It has its own Adam, at the
   generator's learning rate, and the standard GAN loss (``d_loss``, 2 ln 2 = 1.386 at chance).
   The generator gets ``adv_weight * (g_adv + g_fm)``: the non-saturating adversarial loss and
   Mogren's feature matching (Salimans et al. 2016: the squared distance between the means of
   the critic's last features on real and generated sequences).  Because the forward samples are
   exact one-hots, the critic cannot tell generated from real by their form, only by their content.

The schedule counts the steps of each ``fit`` call (:meth:`fit` reads ``epochs`` and
``steps_per_epoch``, so :func:`neurotunes.training.train` needs no change): the first
:data:`WARMUP_FRACTION` is maximum likelihood only while the critic already learns on the
generator's samples (a critic that starts from nothing gives noise), then over
:data:`RAMP_FRACTION` ``adv_weight`` rises 0 -> 1 as ``mle_weight`` falls 1 -> :data:`MLE_FLOOR`.

The critic stays out of Keras' tracking (``get_weights``, ``set_weights``, ``trainable_variables``
and the optimizer state saved with a checkpoint are the generator's alone, exactly the
``lstm``'s shapes).  So a resumed run starts a fresh critic, and its schedule starts again
from the warm-up.  ``loss`` in the logs is the plain cross-entropy (nats/token, comparable with
``val_loss``); ``d_loss``, ``d_acc`` (the critic's accuracy on real and generated),
``g_adv``, ``g_fm`` and ``adv_weight`` are epoch means, kept in the history with it.

Cost, measured on 2 CPU cores against ``lstm`` with the same settings (CPU seconds, the machine
shared): 2 x LSTM 128, chunks of 128, batches of 32: 709 ms a batch against 455 (wall 684 against
280: the free-running part is sequential), and 14 s against 5 s to trace the first batch.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
from typing import Any

from .._quiet import import_tensorflow
from ..config import ModelConfig
from ..errors import BadConfig
from .base import register
from .lstm import LSTM

#: Real tokens that prime each free-running generation (at most a quarter of the chunk).
PRIME_TOKENS = 16
#: Tokens the generator writes on its own per chunk, for the critic to judge (at most the rest of the chunk).
FREE_RUN_TOKENS = 32
#: Temperature of the soft sample whose gradient the straight-through estimator passes back.
GUMBEL_TEMPERATURE = 1.0
#: Share of a fit's steps trained by maximum likelihood only (the critic learns meanwhile).
WARMUP_FRACTION = 0.25
#: Share of a fit's steps over which the adversarial weight rises to 1 and the likelihood weight falls.
RAMP_FRACTION = 0.25
#: The likelihood weight after the ramp: never zero, so the model stays a language model.
MLE_FLOOR = 0.5
#: Names of the adversarial figures in the logs (epoch means).
ADVERSARIAL_LOGS = ("d_loss", "d_acc", "g_adv", "g_fm", "adv_weight")


def free_run_lengths(sequence_length: int) -> tuple[int, int]:
    """``(prime, continuation)`` token counts for chunks of ``sequence_length`` tokens (both at least 1)."""
    prime = max(1, min(PRIME_TOKENS, sequence_length // 4))
    return prime, max(1, min(FREE_RUN_TOKENS, sequence_length - prime))


def schedule(progress: float) -> tuple[float, float]:
    """``(mle_weight, adv_weight)`` after ``progress`` (0..1) of a fit's steps, as a plain-float mirror
    of what ``train_step`` computes in TensorFlow."""
    adv = min(max((progress - WARMUP_FRACTION) / RAMP_FRACTION, 0.0), 1.0)
    return 1.0 - (1.0 - MLE_FLOOR) * adv, adv


@register
class CRNNGAN(LSTM):
    name = "crnn_gan"
    description = ("C-RNN-GAN: an LSTM generator trained against a bidirectional-LSTM critic (Mogren 2016), "
                   "after a maximum-likelihood warm-up")

    def build(self, config: ModelConfig) -> Any:
        generator = super().build(config)  # first, so its initial weights are the lstm's for the same seed
        return _adversarial_model_class()(generator, config)


class Critic:
    """What the generator trains against, held in a plain object so Keras does not track it: its
    weights and optimizer stay out of the model's ``get_weights`` and out of saved optimizer state."""

    def __init__(self, config: ModelConfig, learning_rate: Any):
        tf = import_tensorflow()

        units = max(8, config.units // 2)  # per direction: the two directions together are as wide as the generator
        sequences = tf.keras.Input(shape=(None, config.vocab_size), name="one_hot_tokens")
        x = tf.keras.layers.Dense(config.embedding_dim, use_bias=False, name="critic_embedding")(sequences)
        # A plain RNN over an LSTMCell, not layers.LSTM: the latter builds a cuDNN and a generic graph
        # for every call and gradient, and tracing the step is most of a short run's time (a
        # bidirectional critic's forward and gradient traced in 5.8 s as layers.LSTM, 0.8 s as this).
        features = tf.keras.layers.Bidirectional(
            tf.keras.layers.RNN(tf.keras.layers.LSTMCell(units), return_sequences=True), name="critic_lstm")(x)
        decisions = tf.keras.layers.Dense(1, name="critic_decision")(features)
        self.model = tf.keras.Model(sequences, [decisions, features], name="critic")
        self.optimizer = tf.keras.optimizers.Adam(learning_rate, clipnorm=1.0)
        # [first optimizer step of this fit, steps it will take]: set by fit, read by train_step.
        self.plan = tf.Variable([0, 0], dtype=tf.int64, trainable=False, name="adversarial_plan",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.trackers = [tf.keras.metrics.Mean(name=name) for name in ADVERSARIAL_LOGS]

    def __call__(self, sequences: Any) -> tuple[Any, Any]:
        """Sequence logits ``(batch,)`` (the mean of the per-step decisions) and the last features."""
        tf = import_tensorflow()

        decisions, features = self.model(sequences, training=True)
        return tf.reduce_mean(decisions, axis=[1, 2]), features


@functools.lru_cache(maxsize=1)
def _adversarial_model_class() -> type:
    """The Keras model class, made on first use so that TensorFlow is imported only then."""
    tf = import_tensorflow()

    class _FollowLearningRate(tf.keras.optimizers.schedules.LearningRateSchedule):
        """The critic's learning rate: the generator's at every step (so plateau and cosine schedules apply)."""

        def __init__(self, model: Any):
            self.model = model

        def __call__(self, step):
            optimizer = self.model.optimizer  # None until compile: Adam asks once, when it is made
            return optimizer.learning_rate if optimizer is not None else tf.constant(0.0)

        def get_config(self):
            return {}

    class AdversarialLSTM(tf.keras.Model):
        """The generator for everything Keras sees (call, weights, test_step); an adversarial train_step."""

        def __init__(self, generator: Any, config: ModelConfig):
            super().__init__(name=f"neurotunes_{config.arch}")
            self.generator = generator
            self.vocab_size = config.vocab_size
            self._embedding = generator.get_layer("embedding")
            self._cells = [generator.get_layer(f"{config.arch}_{i}").cell for i in range(config.layers)]
            self._logits = generator.get_layer("logits")
            self.critic = Critic(config, _FollowLearningRate(self))
            self.critic.model(tf.zeros((1, 2, config.vocab_size)))  # its weights exist before fit traces a step
            # Drawn last, from Python's generator (which the training seed seeds), so the generator's
            # and the critic's initial weights are what they would be without it.
            self._seed = random.getrandbits(31)

        def call(self, inputs, training=None):
            return self.generator(inputs, training=training)

        @property
        def metrics(self):
            return [*super().metrics, *self.critic.trackers]  # reset by Keras at every epoch

        def fit(self, *args, **kwargs):
            """Keras' fit, after noting how many steps it will take: the adversarial schedule runs over them."""
            given = inspect.signature(tf.keras.Model.fit).bind(self, *args, **kwargs)
            given.apply_defaults()
            a = given.arguments
            per_epoch = a["steps_per_epoch"]
            if not per_epoch and isinstance(a["x"], tf.data.Dataset):
                cardinality = int(a["x"].cardinality())
                per_epoch = cardinality if cardinality > 0 else 0
            elif not per_epoch and a["x"] is not None and hasattr(a["x"], "__len__"):
                per_epoch = math.ceil(len(a["x"]) / (a["batch_size"] or 32))
            total = max(int(per_epoch or 0) * (int(a["epochs"]) - int(a["initial_epoch"])), 1)
            with self.distribute_strategy.scope():
                self.critic.plan.assign([int(self.optimizer.iterations.numpy()), total])
                self._create_step_variables()
            return super().fit(*args, **kwargs)

        def _create_step_variables(self):
            """Make now every variable the first step would make (optimizer slots, the compiled loss and
            metrics): tf.function traces a step twice when its first trace creates variables, and tracing
            this step is the slow part of a short run (14 s of CPU once on 2 x LSTM 128; the lstm's, 5 s)."""
            self.optimizer.build(self.generator.trainable_variables)
            self.critic.optimizer.build(self.critic.model.trainable_variables)

            def update_once():  # the states it leaves are reset as each epoch begins
                tokens = tf.zeros((1, 2), tf.int32)
                logits = self(tokens, training=False)
                self.compute_loss(tokens, tokens, logits)
                self.compute_metrics(tokens, tokens, logits, None)

            self.distribute_strategy.run(update_once)  # metrics update in a replica's context only

        def test_step(self, data):
            logs = super().test_step(data)  # the cross-entropy on validation chunks, as for any model
            return {k: v for k, v in logs.items() if k not in ADVERSARIAL_LOGS}

        def _weights_now(self):
            """``(mle_weight, adv_weight)`` at the optimizer's current step (see :func:`schedule`)."""
            start, total = self.critic.plan[0], self.critic.plan[1]
            progress = tf.cast(self.optimizer.iterations - start, tf.float32) / tf.cast(total, tf.float32)
            adv = tf.clip_by_value((progress - WARMUP_FRACTION) / RAMP_FRACTION, 0.0, 1.0)
            return 1.0 - (1.0 - MLE_FLOOR) * adv, adv

        def _advance(self, inputs, states):
            """One step of the LSTM stack (no dropout) from embedded ``inputs``: next-token logits, new states."""
            new_states = []
            for cell, state in zip(self._cells, states):
                inputs, (h, c) = cell(inputs, list(state), training=False)
                new_states.append((h, c))
            return self._logits(inputs), tuple(new_states)

        def _sample(self, logits, uniform):
            """A straight-through Gumbel-softmax sample: exactly one-hot forward, the soft sample's gradient back."""
            noisy = logits - tf.math.log(-tf.math.log(uniform))  # + Gumbel(0, 1) noise: argmax samples softmax
            soft = tf.nn.softmax(noisy / GUMBEL_TEMPERATURE)
            # (soft - soft) is exactly 0, so the rows are exact one-hots; (one_hot + soft) - soft is not.
            return tf.one_hot(tf.argmax(noisy, axis=-1), self.vocab_size) + (soft - tf.stop_gradient(soft))

        def free_run(self, prime, length: int, uniform):
            """``length`` samples after the real tokens ``prime`` ``(batch, p)``, as one-hot rows
            ``(batch, length, vocab)`` whose gradient reaches the generator; ``uniform`` holds the noise,
            ``(batch, length, vocab)`` in (0, 1).

            Symbolic loops: a Python loop unrolled 48 steps x 2 layers into the graph, and the first
            batch took 106 s (wall, on a busy 2-core machine) where it now takes 14 s of CPU.
            """
            embeddings = self._embedding.embeddings
            batch = tf.shape(prime)[0]
            states = tuple((tf.zeros((batch, c.units)), tf.zeros((batch, c.units))) for c in self._cells)

            def read(t, logits, states):
                logits, states = self._advance(tf.gather(embeddings, prime[:, t]), states)
                return t + 1, logits, states

            _, logits, states = tf.while_loop(
                lambda t, *_: t < tf.shape(prime)[1], read, (0, tf.zeros((batch, self.vocab_size)), states))

            def write(t, logits, states, samples):
                sample = self._sample(logits, uniform[:, t])
                logits, states = self._advance(tf.matmul(sample, embeddings), states)
                return t + 1, logits, states, samples.write(t, sample)

            samples = tf.TensorArray(tf.float32, size=length)
            _, logits, _, samples = tf.while_loop(
                lambda t, *_: t < length - 1, write, (0, logits, states, samples))
            samples = samples.write(length - 1, self._sample(logits, uniform[:, length - 1]))
            return tf.transpose(samples.stack(), [1, 0, 2])

        def train_step(self, data):
            x, y = data[:2]
            critic = self.critic
            if x.shape[1] is None:
                raise BadConfig("crnn_gan trains on chunks of one fixed length (the free-running part's "
                                "prime and length are set from it); batch the chunks with their length known")
            prime, length = free_run_lengths(int(x.shape[1]))
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            mle_weight, adv_weight = self._weights_now()
            # Stateless noise keyed by (seed + replica, step): reproducible runs, different on each replica.
            seed = tf.stack([self._seed + tf.cast(replica, tf.int64), self.optimizer.iterations])
            uniform = tf.random.stateless_uniform((tf.shape(x)[0], length, self.vocab_size), seed,
                                                  minval=1e-20, maxval=1.0)
            real = tf.one_hot(x[:, : prime + length], self.vocab_size)
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                logits = self(x, training=True)
                cross_entropy = self.compute_loss(x, y, logits)  # already divided by the replicas
                fake = tf.concat([real[:, :prime], self.free_run(x[:, :prime], length, uniform)], axis=1)
                # One critic pass over both halves (one BiLSTM in the graph instead of two).
                sequence_logits, features = critic(tf.concat([real, fake], axis=0))
                real_logit, fake_logit = tf.split(sequence_logits, 2)
                real_features, fake_features = tf.split(features, 2)
                ones = tf.ones_like(real_logit)
                d_loss = tf.reduce_mean(
                    tf.nn.sigmoid_cross_entropy_with_logits(ones, real_logit)
                    + tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(fake_logit), fake_logit))
                g_adv = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(ones, fake_logit))
                # Feature matching: ||E f(real) - E f(generated)||^2 over the critic's last features.
                g_fm = tf.reduce_sum(tf.square(
                    tf.reduce_mean(real_features, axis=[0, 1]) - tf.reduce_mean(fake_features, axis=[0, 1])))
                g_loss = mle_weight * cross_entropy + adv_weight * (g_adv + g_fm) / replicas
                d_loss_per_replica = d_loss / replicas  # each replica's share: the optimizers sum them
            g_vars = self.generator.trainable_variables
            d_vars = critic.model.trainable_variables
            g_grads = g_tape.gradient(g_loss, g_vars)
            d_grads = d_tape.gradient(d_loss_per_replica, d_vars)
            self.optimizer.apply_gradients(zip(g_grads, g_vars))
            critic.optimizer.apply_gradients(zip(d_grads, d_vars))
            d_acc = 0.5 * (tf.reduce_mean(tf.cast(real_logit > 0, tf.float32))
                           + tf.reduce_mean(tf.cast(fake_logit < 0, tf.float32)))
            for tracker, value in zip(critic.trackers, (d_loss, d_acc, g_adv, g_fm, adv_weight)):
                tracker.update_state(value)
            return self.compute_metrics(x, y, logits, None)

    return AdversarialLSTM
