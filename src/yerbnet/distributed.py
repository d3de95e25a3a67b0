"""Where training runs: TensorFlow's default device, all local GPUs, or several machines.

Keras 3.15's ``fit`` cannot run under ``MultiWorkerMirroredStrategy``: before the first step
it reduces the ``(x, y)`` batch as one value ("Attempt to convert a value (PerReplica...)"),
and each step reduces scalar metrics along axis 0 (keras-team/keras#20585,
tensorflow/tensorflow#72388). :func:`fit_across_workers` is the loop ``fit`` runs, with those
two reductions left out: Keras' own ``train_step``/``test_step`` inside ``strategy.run``,
metrics read in cross-replica context, and the same callbacks.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """``mirrored``: every local GPU; ``multi_worker``: the machines ``TF_CONFIG`` lists; ``none``: one device.

    ``MultiWorkerMirroredStrategy`` must exist before TensorFlow runs its first op, so
    call this first.
    """
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy() if name == "mirrored" else tf.distribute.get_strategy()


def fit_across_workers(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    train_data: tf.data.Dataset,
    *,
    validation_data: tf.data.Dataset,
    initial_epoch: int,
    epochs: int,
    steps_per_epoch: int,
    callbacks: list[keras.callbacks.Callback],
) -> keras.callbacks.History:
    """``model.fit(...)`` for ``MultiWorkerMirroredStrategy``: each worker runs this in step with the others.

    Every worker reads the same pipeline and keeps its share of each global batch (data
    sharding: the shards are not split by file, so any number of workers works).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = iter(strategy.experimental_distribute_dataset(train_data.with_options(options)))
    validation = strategy.experimental_distribute_dataset(validation_data.with_options(options))

    @tf.function
    def train_step(batch: tuple[tf.Tensor, ...]) -> None:
        strategy.run(model.train_step, args=(batch,))

    @tf.function
    def test_step(batch: tuple[tf.Tensor, ...]) -> None:
        strategy.run(model.test_step, args=(batch,))

    everything = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=True, model=model, verbose=2, epochs=epochs, steps=steps_per_epoch
    )
    model.stop_training = False
    everything.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        everything.on_epoch_begin(epoch)
        for _ in range(steps_per_epoch):
            train_step(next(batches))
        logs = _results(model)
        model.reset_metrics()
        for batch in validation:
            test_step(batch)
        logs.update({f"val_{name}": value for name, value in _results(model).items()})
        everything.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    everything.on_train_end()
    return model.history


def _results(model: keras.Model) -> dict[str, float]:
    """The metrics summed over every replica (reading them is itself a collective step)."""
    return {name: float(np.asarray(value)) for name, value in model.get_metrics_result().items()}
