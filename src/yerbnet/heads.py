"""What a model may add around its backbone beyond a plain pooling head.

``head: attention`` (:func:`attention_scores`), ``hierarchy: conditional``
(:class:`ConditionalScores`) and ``test_time_crops`` (:class:`ZoomedViews` before the
backbone, :class:`MaxOverViews` after the scores). Each is a registered Keras layer, so a
saved model carries it to evaluate, ``yerbnet predict`` and the export.
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="yerbnet")
class ConditionalScores(layers.Layer):
    """A class's score times its parent's: ``P(Cans/Slim/Gold) = P(Gold | Cans/Slim) * P(Cans/Slim) * P(Cans)``.

    ``train.hierarchy: conditional``. A flavour's own sigmoid then only has to tell flavours of
    a family apart (its loss is small wherever the family is absent), and no flavour can
    outscore its family. ``parents[c]`` is the column of class ``c``'s parent, or -1.
    """

    def __init__(self, parents: list[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.parents = list(parents)
        depth = 0
        for column in range(len(self.parents)):
            chain, node = 0, column
            while self.parents[node] >= 0:
                chain, node = chain + 1, self.parents[node]
            depth = max(depth, chain)
        self.depth = depth

    def call(self, own: keras.KerasTensor) -> keras.KerasTensor:
        # Column len(parents) is a constant 1: the "parent" of every root.
        gather = [p if p >= 0 else len(self.parents) for p in self.parents]
        scores = own
        for _ in range(self.depth):  # after `depth` rounds every chain is multiplied out
            with_one = keras.ops.concatenate([scores, keras.ops.ones_like(own[:, :1])], axis=1)
            scores = own * keras.ops.take(with_one, gather, axis=1)
        return scores

    def get_config(self) -> dict:
        return {**super().get_config(), "parents": self.parents}


@keras.saving.register_keras_serializable(package="yerbnet")
class AttentionPooling(layers.Layer):
    """Per class, a softmax over positions of its attention map weighs its evidence map into one logit."""

    def call(self, evidence: keras.KerasTensor, attention: keras.KerasTensor) -> keras.KerasTensor:
        classes = evidence.shape[-1]
        evidence = keras.ops.reshape(evidence, (-1, evidence.shape[1] * evidence.shape[2], classes))
        attention = keras.ops.reshape(attention, (-1, attention.shape[1] * attention.shape[2], classes))
        return keras.ops.sum(keras.ops.softmax(attention, axis=1) * evidence, axis=1)


def attention_scores(x: keras.KerasTensor, num_classes: int, name: str) -> keras.KerasTensor:
    """``head: attention``: each class scores every position of the feature map (a 1x1 conv) and pools the
    scores with its own learned attention, between a max (one small can) and a mean (evidence spread out)."""
    evidence = layers.Conv2D(num_classes, 1, name="class_evidence", dtype="float32")(x)
    attention = layers.Conv2D(num_classes, 1, name="class_attention", dtype="float32")(x)
    logits = AttentionPooling(name="attention_pool", dtype="float32")(evidence, attention)
    return layers.Activation("sigmoid", name=name, dtype="float32")(logits)


@keras.saving.register_keras_serializable(package="yerbnet")
class ZoomedViews(layers.Layer):
    """``train.test_time_crops``: at inference, the photo and five crops of ``fraction`` of its side (the four
    corners and the centre), each zoomed back to full size, stacked on the batch axis; in training, the photo.

    A small product fills more of a zoomed crop; :class:`MaxOverViews` then keeps each class's best
    view. Being layers of the saved model, the views serve evaluate, ``yerbnet predict`` and the export alike.
    """

    VIEWS = 6

    def __init__(self, fraction: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fraction = fraction

    def call(self, x: keras.KerasTensor, training: bool | None = None) -> keras.KerasTensor:
        if training:
            return x
        side = x.shape[1]
        crop = round(side * self.fraction)
        corners = [(0, 0), (0, side - crop), (side - crop, 0), (side - crop, side - crop)]
        starts = [*corners, ((side - crop) // 2, (side - crop) // 2)]
        crops = [
            keras.ops.image.resize(x[:, top : top + crop, left : left + crop, :], (side, side)) for top, left in starts
        ]
        return keras.ops.concatenate([x, *crops], axis=0)

    def get_config(self) -> dict:
        return {**super().get_config(), "fraction": self.fraction}


@keras.saving.register_keras_serializable(package="yerbnet")
class MaxOverViews(layers.Layer):
    """Each class's highest score over the :class:`ZoomedViews` of one photo (a product is there if a view sees it)."""

    def call(self, scores: keras.KerasTensor, training: bool | None = None) -> keras.KerasTensor:
        if training:
            return scores
        return keras.ops.max(keras.ops.reshape(scores, (ZoomedViews.VIEWS, -1, scores.shape[-1])), axis=0)
