"""The model zoo: one registry entry per backbone, three heads (gap, gap_dense, gmp), sigmoid multi-label outputs.

Every model takes raw pixels in [0, 255] and rescales them itself to the range its
backbone was trained on, so predict never has to know the architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import keras
from keras import layers

from yerbnet.errors import UserError
from yerbnet.heads import ConditionalScores, MaxOverViews, ZoomedViews, attention_scores
from yerbnet.params import TrainParams

Backbone = Callable[[keras.KerasTensor, TrainParams, str | None], keras.KerasTensor]


def _to_unit_range(x: keras.KerasTensor) -> keras.KerasTensor:
    """[0, 255] -> [-1, 1], what MobileNetV2 and Xception expect (and our from-scratch CNN)."""
    return layers.Rescaling(1 / 127.5, offset=-1, name="to_unit_range")(x)


def _simple_cnn(x: keras.KerasTensor, cfg: TrainParams, weights: str | None) -> keras.KerasTensor:
    """The seed's from-scratch net: a strided stem, then conv/pool blocks doubling in width.

    The stem is one conv of kernel 2 * stride + 1, except at stride 4: there the stride-2 stem
    followed by a stride-2 3x3 conv. A single 9x9 conv with 16 filters squeezes 48 pixel values a
    position into 16 numbers: at 256 px on the realistic set it lost to 128 px (seed 42: 0.380 against
    0.507); the two convs won on average over three seeds (0.506 against 0.472; docs/results.md).

    Built as a nested model, like the keras.applications backbones, so that a trained one can be
    saved by ``yerbnet backbone`` and start another run (``train.weights``: a sim-to-real start).
    """
    if weights == "imagenet":
        raise UserError("params.yaml: train.weights = 'imagenet' does not exist for simple_cnn; allowed: null | a file")
    x = _to_unit_range(x)
    inputs = keras.Input(tuple(x.shape[1:]))
    first_stride = 2 if cfg.cnn_stem_stride == 4 else cfg.cnn_stem_stride
    y = _conv_bn_relu(inputs, cfg.cnn_filters, kernel=2 * first_stride + 1, strides=first_stride)
    if cfg.cnn_stem_stride == 4:
        y = _conv_bn_relu(y, cfg.cnn_filters, kernel=3, strides=2)
    for _ in range(cfg.cnn_fine_convs):
        y = _conv_bn_relu(y, cfg.cnn_filters, kernel=3, strides=1)
    for block in range(1, cfg.cnn_blocks + 1):
        y = _conv_bn_relu(y, cfg.cnn_filters * 2**block, kernel=3, strides=1)
        y = layers.MaxPooling2D()(y)
    backbone = keras.Model(inputs, y, name="simple_cnn")
    if weights:
        try:
            backbone.load_weights(weights)
        except ValueError as exc:  # layer shapes differ: another depth, width or stem
            raise UserError(
                f"train.weights = {weights!r} does not fit simple_cnn with cnn_blocks {cfg.cnn_blocks}, "
                f"cnn_filters {cfg.cnn_filters}, cnn_stem_stride {cfg.cnn_stem_stride}, "
                f"cnn_fine_convs {cfg.cnn_fine_convs} "
                f"({str(exc).splitlines()[0][:160]})"
            ) from None
    return backbone(x)


def _conv_bn_relu(x: keras.KerasTensor, filters: int, kernel: int, strides: int) -> keras.KerasTensor:
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="yerbnet")
class CaffeStyle(layers.Layer):
    """[0, 255] RGB -> BGR minus the ImageNet channel means: the input ResNet50's weights expect."""

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(IMAGENET_BGR_MEANS, dtype=x.dtype)


def _to_caffe_style(x: keras.KerasTensor) -> keras.KerasTensor:
    return CaffeStyle(name="caffe_style")(x)


def _application(
    factory: Callable[..., keras.Model], preprocess: Callable[[keras.KerasTensor], keras.KerasTensor] | None
) -> Backbone:
    def build(x: keras.KerasTensor, cfg: TrainParams, weights: str | None) -> keras.KerasTensor:
        if preprocess is not None:
            x = preprocess(x)
        extra = {"alpha": cfg.alpha} if factory is keras.applications.MobileNetV2 else {}
        shape = tuple(x.shape[1:])
        try:
            backbone = factory(include_top=False, weights=weights, input_shape=shape, **extra)
        except ValueError as exc:  # layer shapes differ: the file belongs to another model
            raise UserError(
                f"train.weights = {weights!r} does not fit {cfg.architecture} {extra or ''} at input {shape} "
                f"({str(exc).splitlines()[0][:160]})"
            ) from None
        except Exception as exc:  # Keras raises a bare Exception when the weights download fails
            if weights == "imagenet" and "URL fetch failure" in str(exc):
                raise UserError(
                    "train.weights = imagenet needs a download, and there is no network: download the "
                    "file on a connected machine and set train.weights to its local path (see README)"
                ) from None
            raise
        if weights is None:
            _fast_batchnorm(backbone)
        return backbone(x)

    return build


def _fast_batchnorm(model: keras.Model) -> None:
    """Let BatchNorm statistics follow a from-scratch model within a few hundred steps.

    keras.applications builds BatchNorm with momentum 0.999, tuned for ImageNet-length
    runs; on a few hundred steps its moving averages stay near their initial values and
    validation (inference mode) scores are noise.
    """
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = 0.9


BACKBONES: dict[str, Backbone] = {
    "simple_cnn": _simple_cnn,
    "mobilenet_v2": _application(keras.applications.MobileNetV2, _to_unit_range),
    "xception": _application(keras.applications.Xception, _to_unit_range),
    # EfficientNet rescales [0, 255] inputs inside its own first layers.
    "efficientnet_b0": _application(keras.applications.EfficientNetB0, None),
    "resnet50": _application(keras.applications.ResNet50, _to_caffe_style),
    # Modern backbones that suit small data sets; each takes [0, 255] and rescales itself.
    "efficientnetv2_b0": _application(keras.applications.EfficientNetV2B0, None),
    "convnext_tiny": _application(keras.applications.ConvNeXtTiny, None),
    "mobilenet_v3_small": _application(keras.applications.MobileNetV3Small, None),
    "mobilenet_v3_large": _application(keras.applications.MobileNetV3Large, None),
}


def set_backbone_trainable(model: keras.Model, top_layers: int | Literal["all"]) -> None:
    """Freeze the pretrained backbone (``0``) or let its top ``top_layers`` layers (or ``"all"``) train.

    BatchNorm layers stay frozen, which in Keras 3 also keeps them in inference mode:
    small fine-tuning batches would wreck their ImageNet statistics. (Calling the backbone
    with ``training=False`` does not do it: a functional model passes its own ``training``
    down to every layer.) Call ``compile`` afterwards: Keras fixes the trainable set then.
    """
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    backbone.trainable = top_layers != 0
    for number, layer in enumerate(backbone.layers):
        below = top_layers not in ("all", 0) and number < len(backbone.layers) - top_layers
        if below or isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def resolve_weights(weights: str | None) -> str | None:
    """``null``, ``imagenet`` or an existing local file (Keras' own error for a missing one is vague)."""
    if weights in (None, "imagenet"):
        return weights
    path = Path(weights)
    if not path.is_file():
        raise UserError(
            f"params.yaml: train.weights = {weights!r}: file not found; allowed: null | imagenet | a weights file"
        )
    if not path.name.endswith(".h5"):
        raise UserError(f"params.yaml: train.weights = {weights!r}; allowed: a '.weights.h5' or '.h5' file")
    return str(path)


@contextmanager
def precision_policy(mixed_precision: bool) -> Iterator[None]:
    """Layers built inside compute in float16 with float32 weights when asked; the global policy is restored after.

    Keras' mixed-precision guide sets ``mixed_float16`` globally before building the model;
    restoring it keeps the choice to this model (and out of later models in the same process).
    ``compile`` then wraps the optimizer in a ``LossScaleOptimizer`` by itself.
    """
    before = keras.mixed_precision.global_policy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def build_model(cfg: TrainParams, image_size: int, num_classes: int, parents: list[int] | None = None) -> keras.Model:
    """``parents``: each class's parent column (-1 for none), needed by ``train.hierarchy: conditional``."""
    if cfg.architecture not in BACKBONES:
        raise UserError(f"params.yaml: train.architecture = {cfg.architecture!r}; allowed: {' | '.join(BACKBONES)}")
    with precision_policy(cfg.mixed_precision):
        inputs = keras.Input((image_size, image_size, 3), name="pixels")
        x = inputs if cfg.test_time_crops is None else ZoomedViews(cfg.test_time_crops, name="zoomed_views")(inputs)
        x = BACKBONES[cfg.architecture](x, cfg, resolve_weights(cfg.weights))
        # float32 whatever the policy: the sigmoid and the loss lose too much in float16
        name = "own_scores" if cfg.hierarchy == "conditional" else "scores"
        if cfg.head == "attention":
            x = layers.Dropout(cfg.dropout, name="dropout")(x)
            own = attention_scores(x, num_classes, name)
        else:
            # gmp: "is this product anywhere in the photo" is a max over positions; an average
            # dilutes a small can among the background.
            pool = layers.GlobalMaxPooling2D if cfg.head == "gmp" else layers.GlobalAveragePooling2D
            x = pool(name="pool")(x)
            if cfg.head == "gap_dense":
                x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
            x = layers.Dropout(cfg.dropout, name="dropout")(x)
            own = layers.Dense(num_classes, activation="sigmoid", name=name, dtype="float32")(x)
        if cfg.hierarchy == "conditional":
            if parents is None or len(parents) != num_classes:
                raise ValueError(
                    "train.hierarchy = conditional needs each class's parent column (Hierarchy.parent_columns)"
                )
            outputs = ConditionalScores(parents, name="scores", dtype="float32")(own)
        else:
            outputs = own
        if cfg.test_time_crops is not None:
            outputs = MaxOverViews(name="max_over_views", dtype="float32")(outputs)
        return keras.Model(inputs, outputs, name=f"yerbnet_{cfg.architecture}_{cfg.head}")
