"""``yerbnet export``: a trained model as a bundle that serves without yerbnet, DVC or Keras.

The bundle's model takes what a deployer has, one decoded RGB photo of any size
(``uint8 [height, width, 3]``), and squares and resizes it inside the graph exactly as
:func:`yerbnet.sources.images.fit_square` does: Pillow's bilinear filter is reproduced in
integer arithmetic, so the pixels the network sees are predict's, to the last bit, and the
scores are predict's raw scores. Decoding (EXIF orientation, alpha, 16-bit, ``max_side``)
stays on the host, as :func:`~yerbnet.sources.images.load_rgb`; the bundle's README says how.
Beside the model: the class list, the tuned thresholds and the class-tree rules as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from yerbnet import files
from yerbnet.classtree.decisions import Hierarchy
from yerbnet.classtree.taxonomy import NO_YERB
from yerbnet.errors import UserError
from yerbnet.saved_model import (
    CLASSES_FILE,
    MODEL_FILE,
    THRESHOLDS_FILE,
    ModelInfo,
    load_model,
    load_thresholds,
    read_info,
    write_info,
)

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

FORMATS = ("savedmodel", "tflite", "onnx")
MODEL_NAMES = {"savedmodel": "savedmodel", "tflite": "model.tflite", "onnx": "model.onnx"}
ONNX_OPSET = 17  # onnxruntime 1.16 (2023) and later run it
HIERARCHY_FILE = "hierarchy.json"
README_FILE = "README.md"
SQUARING = {
    "pad": "pads it with black around the photo",
    "crop": "crops the centre of the photo",
    "stretch": "stretches the whole photo to a square, not keeping its aspect",
}
BITS = 22  # Pillow's fixed-point precision for 8-bit images (PRECISION_BITS in Resample.c)
RULES = [
    "1. scores: raise each parent's score to at least its highest child's, deepest classes first",
    "2. labels: a class is predicted when its score (after rule 1) reaches its threshold; "
    "then every predicted class's ancestors are predicted too",
    f"3. '{NO_YERB}' is exclusive: predicted together with a product, it stays only if its score is above "
    "every product's score; otherwise it is dropped (a tie keeps the products)",
]


def export_bundle(model_dir: Path, out: Path, fmt: str) -> Path:
    """Write the bundle for ``fmt`` into ``out`` (built in a temporary folder beside it, then renamed); return
    the model's path. An existing ``out`` is replaced only if it is an earlier bundle, never another folder."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: allowed: {', '.join(FORMATS)}")
    _check_replaceable(out)
    info = read_info(model_dir)
    model = load_model(model_dir / MODEL_FILE)
    size = int(model.input_shape[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.tmp.") as tmp:
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        serve = serving_function(model, size, info.resize)
        if fmt == "onnx":
            files.write_bytes(bundle / MODEL_NAMES["onnx"], convert_onnx(serve))
        else:
            savedmodel = bundle / MODEL_NAMES["savedmodel"] if fmt == "savedmodel" else Path(tmp) / "savedmodel"
            write_savedmodel(model, serve, savedmodel)
            if fmt == "tflite":
                files.write_bytes(bundle / MODEL_NAMES["tflite"], convert_tflite(savedmodel))
        write_info(bundle, info)
        files.write_json(bundle / THRESHOLDS_FILE, _thresholds(model_dir, info.classes))
        files.write_json(bundle / HIERARCHY_FILE, hierarchy_rules(info.classes))
        files.write_text(bundle / README_FILE, _readme(fmt, info, size))
        _replace(bundle, out)
    return out / MODEL_NAMES[fmt]


def square_image(image: tf.Tensor, size: int, resize: str) -> tf.Tensor:
    """``fit_square`` in TensorFlow ops: ``uint8 [h, w, 3]`` -> ``float32 [size, size, 3]`` of whole numbers.

    Like Pillow: the square is cut from (``crop``) or padded with black around (``pad``) the
    photo's centre, or is the whole photo (``stretch``), then resampled horizontally, rounded
    to bytes, and vertically.
    """
    import tensorflow as tf

    height, width = tf.shape(image)[0], tf.shape(image)[1]
    if resize == "stretch":
        across, down = _coefficients(width, 0, width, size), _coefficients(height, 0, height, size)
    else:
        side = tf.maximum(height, width) if resize == "pad" else tf.minimum(height, width)
        across = _coefficients(width, _shift(width, side, resize), side, size)
        down = _coefficients(height, _shift(height, side, resize), side, size)
    pixels = tf.transpose(tf.cast(image, tf.float32), [2, 0, 1])  # [3, h, w]
    rows = _resample(pixels, across)  # [3, h, size]
    square = _resample(tf.transpose(rows, [0, 2, 1]), down)
    return tf.transpose(square, [2, 1, 0])  # [size, size, 3]


def _shift(length: tf.Tensor, side: tf.Tensor, resize: str) -> tf.Tensor:
    """Where the photo's first pixel lands in the square: Pillow's crop box starts at ``(length - side) // 2``.

    Written with non-negative divisions only: ONNX divides integers towards zero, not down.
    """
    return (side - length + 1) // 2 if resize == "pad" else -((length - side) // 2)


def _coefficients(length: tf.Tensor, offset: tf.Tensor, side: tf.Tensor, size: int) -> tf.Tensor:
    """``int32 [size, length]``: Pillow's bilinear weights in 2**-22 units for input positions ``0..length-1``,
    which sit at ``position + offset`` in a square of ``side`` (outside it, in the black padding or
    the cropped margin, they weigh nothing).

    Pillow's tent filter is widened by the shrink factor and each row normalised over the
    square; in units of 1 / (2 * size) every distance is a whole number, so the weights are
    computed as exact fractions (Pillow's doubles round them the same way) without float64,
    which TFLite lacks.
    """
    import tensorflow as tf

    out = tf.range(size)[:, None]
    reach = 2 * tf.maximum(side, size)

    def tent(position: tf.Tensor) -> tf.Tensor:
        return tf.maximum(0, reach - tf.abs((2 * position + 1) * size - (2 * out + 1) * side))

    total = tf.reduce_sum(tent(tf.range(side)[None, :]), axis=1, keepdims=True)
    position = (tf.range(length) + offset)[None, :]
    rest = tent(position) * tf.cast((position >= 0) & (position < side), tf.int32)
    whole = tf.zeros_like(rest)
    for step in (7, 7, 7, 1):  # whole = rest * 2**22 // total, in steps that stay within int32
        rest *= 2**step
        whole = whole * 2**step + rest // total
        rest %= total
    return whole + tf.cast(2 * rest >= total, tf.int32)  # rounded half up, as Pillow


def _resample(pixels: tf.Tensor, coefficients: tf.Tensor) -> tf.Tensor:
    """``[3, n, length] @ coefficients.T``, rounded to bytes as Pillow does, exactly.

    Each weight (at most 2**22) is split into ``weight // 256`` and ``weight % 256``: a pixel
    row's sums with either part are whole numbers below 2**24 (the first since the weights add
    up to 2**22, the second for up to 258 taps: shrinking up to 128 times), which float32 holds
    exactly whatever the order of the additions; the parts are recombined in int32. One matrix
    product for both parts.
    """
    import tensorflow as tf

    size = tf.shape(coefficients)[0]
    parts = tf.cast(tf.concat([coefficients // 256, coefficients % 256], axis=0), tf.float32)
    sums = tf.cast(tf.matmul(pixels, parts, transpose_b=True), tf.int32)
    total = sums[:, :, :size] * 256 + sums[:, :, size:] + 2 ** (BITS - 1)
    return tf.cast(tf.clip_by_value(total // 2**BITS, 0, 255), tf.float32)


def serving_function(model: keras.Model, size: int, resize: str) -> tf.types.experimental.PolymorphicFunction:
    """The exported graph: ``image: uint8 [h, w, 3]`` -> ``{"scores": float32 [classes]}``, one photo a call."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8, name="image")])
    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": model(square_image(image, size, resize)[None], training=False)[0]}

    return serve


def write_savedmodel(model: keras.Model, serve: tf.types.experimental.PolymorphicFunction, path: Path) -> None:
    """A SavedModel with ``serve`` as its ``serving_default`` signature (what TF Serving calls)."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve)
    archive.write_out(str(path), verbose=False)


def convert_tflite(savedmodel: Path) -> bytes:
    """The SavedModel as float32 TFLite, built-in ops only (runs on the small ``tflite-runtime`` too)."""
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_saved_model(str(savedmodel)).convert()


def convert_onnx(serve: tf.types.experimental.PolymorphicFunction) -> bytes:
    """The same graph as ONNX (tf2onnx), for onnxruntime and other non-TensorFlow runtimes."""
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=serve.input_signature, opset=ONNX_OPSET)
    return proto.SerializeToString()


def hierarchy_rules(classes: list[str]) -> dict:
    """The class tree as data: each class's parent, the exclusive class, and the rules in words."""
    tree = Hierarchy.of(classes)
    return {
        "parents": {classes[child]: classes[parent] for child, parent in tree.links},
        "exclusive": classes[tree.no_yerb] if tree.no_yerb is not None else None,
        "rules": RULES,
    }


def _thresholds(model_dir: Path, classes: list[str]) -> dict:
    """Every class's threshold, in the layout ``yerbnet predict`` reads (0.5 where evaluate gave none)."""
    values = load_thresholds(model_dir, classes)  # first: it names a broken file in one line
    path = model_dir / THRESHOLDS_FILE
    mode = json.loads(path.read_text(encoding="utf-8")).get("mode", "tuned") if path.exists() else "0.5 (no evaluate)"
    return {"mode": mode, "thresholds": {c: float(np.round(v, 6)) for c, v in zip(classes, values)}}


def _check_replaceable(out: Path) -> None:
    """Refuse, before any work, to replace anything but an empty folder or an earlier bundle."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder; choose another path")
    if any(out.iterdir()) and not (out / HIERARCHY_FILE).is_file():
        raise UserError(
            f"--out {out}: a folder that is not a yerbnet export (no {HIERARCHY_FILE}); choose another path or empty it"
        )


def _replace(bundle: Path, out: Path) -> None:
    """Rename the finished bundle into place; an earlier one is moved aside first, then deleted."""
    if out.exists():
        old = bundle.parent / "old"
        os.rename(out, old)
        os.rename(bundle, out)
        shutil.rmtree(old)
    else:
        os.rename(bundle, out)


def _readme(fmt: str, info: ModelInfo, size: int) -> str:
    import tensorflow as tf

    load = {
        "savedmodel": 'serve = tf.saved_model.load("savedmodel").signatures["serving_default"]\n'
        'scores = serve(image=tf.constant(photo))["scores"].numpy()',
        "tflite": 'runner = tf.lite.Interpreter(model_path="model.tflite").get_signature_runner()\n'
        'scores = runner(image=photo)["scores"]',
        "onnx": 'session = onnxruntime.InferenceSession("model.onnx")\n'
        'scores = session.run(["scores"], {"image": photo})[0]',
    }[fmt]
    limit = f"{info.limits.max_side} px" if info.limits.max_side else "no limit"
    return f"""# yerbnet model ({fmt})

Exported by `yerbnet export --format {fmt}` with TensorFlow {tf.__version__}.
Finds Guayakí products in a photo: {len(info.classes)} classes, multi-label, in a class tree.

## Files

- `{MODEL_NAMES[fmt]}`: the model with its preprocessing.
- `{CLASSES_FILE}`: `classes`, the order of the scores; `resize`, `max_pixels`, `max_side`: how photos are read.
- `{THRESHOLDS_FILE}`: the threshold of each class (`mode`: how the evaluate stage chose them).
- `{HIERARCHY_FILE}`: each class's parent, the exclusive class and the rules that turn scores into labels.

## Input and output

- Input `image`: one photo, `uint8 [height, width, 3]`, RGB, any size.
  The graph squares it ({SQUARING[info.resize]}, `resize: {info.resize}`)
  and resizes it to {size} x {size} with Pillow's bilinear filter, exactly.
- Output `scores`: `float32 [{len(info.classes)}]`, one sigmoid score per class in `{CLASSES_FILE}` order,
  before the class-tree rules.

```python
photo = numpy.asarray(image)   # a PIL image read as below
{load}
```

## Reading the photo (on the host)

For the scores `yerbnet predict` gives, decode the photo as it does (Pillow):
refuse it above `max_pixels` ({info.limits.max_pixels}) pixels; apply its EXIF orientation
(`ImageOps.exif_transpose`); make 8-bit RGB (transparency composited on white, 16-bit grey
shifted right by 8 bits, CMYK and palettes converted); shrink it so its longest side is at most
`max_side` ({limit}): for JPEG first `image.draft(None, (max_side, max_side))`, then
`image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)`. Another decoder or resizer
gives nearly, not exactly, the same pixels, and so nearly the same scores.

## From scores to labels

{chr(10).join(RULES)}

The thresholds are in `{THRESHOLDS_FILE}`, the parents and the exclusive class in `{HIERARCHY_FILE}`.
"""
