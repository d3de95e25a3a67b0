"""params.yaml, parsed and validated once into typed, frozen objects.

Every stage calls :func:`load_params` first, so a misspelled key, an unknown
architecture or a negative fraction stops the run before any work starts, with one
line that names the key, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML, YAMLError

from yerbnet.errors import UserError

PARAMS_FILE = Path("params.yaml")

ARCHITECTURES = (
    "simple_cnn",
    "mobilenet_v2",
    "xception",
    "efficientnet_b0",
    "resnet50",
    "efficientnetv2_b0",
    "convnext_tiny",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
)


def _positive(value: float) -> bool:
    return value > 0


def _non_negative(value: float) -> bool:
    return value >= 0


def _fraction(value: float) -> bool:
    return 0 < value < 1


def _check(predicate: typing.Callable[[Any], bool], allowed: str) -> dict[str, Any]:
    """Field metadata: a value test and the words that describe what it allows."""
    return {"check": predicate, "allowed": allowed}


@dataclass(frozen=True)
class SyntheticParams:
    images: int = field(default=800, metadata=_check(lambda v: v >= 10, "an integer >= 10"))


@dataclass(frozen=True)
class ScrapeParams:
    source: Literal["synthetic", "instagram", "directory"] = "synthetic"
    profile: str = field(
        default="guayaki",
        metadata=_check(
            lambda v: re.fullmatch(r"[A-Za-z0-9._]{1,30}", v) is not None,
            "an Instagram user name (letters, digits, '.', '_')",
        ),
    )
    max_posts: int | None = field(
        default=None, metadata=_check(lambda v: v is None or v > 0, "an integer > 0, or null for every post")
    )
    session_user: str | None = None
    videos: Literal["skip", "thumbnail"] = "skip"
    # A dependency in dvc.yaml, so it must always name a folder that exists (the repo ships an empty photos/).
    directory: str = field(default="photos", metadata=_check(lambda v: v.strip() != "", "a folder path"))
    max_pixels: int = field(
        default=64_000_000,
        metadata=_check(lambda v: 0 < v <= 178_956_970, "an integer from 1 to 178956970 (Pillow's own hard limit)"),
    )
    max_side: int | None = field(
        default=1440, metadata=_check(lambda v: v is None or v >= 32, "an integer >= 32, or null to keep full size")
    )
    synthetic: SyntheticParams = field(default_factory=SyntheticParams)


@dataclass(frozen=True)
class LabelsParams:
    export: str | None = None
    # Allowed labels (leaves or inner nodes); null accepts any. A typo then stops import_labels.
    taxonomy: list[str] | None = None
    min_matched: float = field(default=0.5, metadata=_check(lambda v: 0 < v <= 1, "a number above 0, up to 1"))


@dataclass(frozen=True)
class EncodeParams:
    merge: dict[str, str] = field(default_factory=dict)
    min_count: int = field(default=0, metadata=_check(_non_negative, "an integer >= 0"))
    val_fraction: float = field(default=0.15, metadata=_check(_fraction, "a number between 0 and 1"))
    test_fraction: float = field(default=0.15, metadata=_check(_fraction, "a number between 0 and 1"))

    def __post_init__(self) -> None:
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(
                f"params.yaml: encode.val_fraction + encode.test_fraction = "
                f"{self.val_fraction + self.test_fraction:g}; allowed: less than 1"
            )


@dataclass(frozen=True)
class AugmentParams:
    copies: int = field(default=3, metadata=_check(lambda v: 0 <= v <= 50, "an integer from 0 to 50"))
    # Repeat-factor sampling: images of classes rarer than this fraction of train images get more copies.
    repeat_threshold: float | None = field(
        default=None, metadata=_check(lambda v: v is None or 0 < v <= 1, "a fraction from above 0 to 1, or null")
    )
    rotation: float = field(
        default=0.1, metadata=_check(lambda v: 0 <= v <= 0.5, "a fraction of a full turn, 0 to 0.5")
    )
    translation: float = field(
        default=0.1, metadata=_check(lambda v: 0 <= v <= 0.5, "a fraction of the image side, 0 to 0.5")
    )
    # Off by default: a flipped product label reads backwards.
    flip: bool = False
    zoom: float = field(default=0.15, metadata=_check(lambda v: 0 <= v <= 0.9, "a fraction of the scale, 0 to 0.9"))
    brightness: float = field(
        default=0.0, metadata=_check(lambda v: 0 <= v <= 1, "a fraction of the 0-255 range, 0 to 1")
    )
    contrast: float = field(default=0.0, metadata=_check(lambda v: 0 <= v <= 1, "a fraction of the contrast, 0 to 1"))
    fill_mode: Literal["nearest", "constant", "reflect", "wrap"] = "nearest"
    # stretch: the whole photo, every pixel of its short side kept, the aspect not (Keras' own default
    # in image_dataset_from_directory).
    resize: Literal["pad", "crop", "stretch"] = "stretch"
    shard_size: int = field(default=1024, metadata=_check(_positive, "an integer > 0"))
    online: bool = False


@dataclass(frozen=True)
class TrainParams:
    architecture: Literal[ARCHITECTURES] = "simple_cnn"  # type: ignore[valid-type]
    head: Literal["gap", "gap_dense", "gmp", "attention"] = "gmp"
    # conditional: a class's score is its own sigmoid times its parent's (heads.ConditionalScores).
    hierarchy: Literal["independent", "conditional"] = "independent"
    # Inference also scores four corner crops and a centre crop of this fraction of the side (heads.ZoomedViews).
    test_time_crops: float | None = field(
        default=None, metadata=_check(lambda v: v is None or 0.5 <= v < 1, "a number from 0.5 to below 1, or null")
    )
    weights: str | None = None
    # With weights loaded: train the head on a frozen backbone first, then fine-tune.
    warmup_epochs: int = field(
        default=3, metadata=_check(_non_negative, "an integer >= 0 (epochs with the backbone frozen)")
    )
    unfreeze_layers: int | Literal["all"] = field(
        default="all",
        metadata=_check(
            lambda v: v == "all" or v >= 0, "'all' or an integer >= 0 (backbone layers fine-tuned, from the top)"
        ),
    )
    fine_tune_learning_rate: float = field(default=1e-5, metadata=_check(_positive, "a number > 0"))
    alpha: float = field(
        default=0.35,
        metadata=_check(
            lambda v: v in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), "0.35 | 0.5 | 0.75 | 1.0 | 1.3 | 1.4 (MobileNetV2 width)"
        ),
    )
    cnn_blocks: int = field(
        default=3, metadata=_check(lambda v: 1 <= v <= 8, "an integer from 1 to 8 (simple_cnn depth)")
    )
    cnn_filters: int = field(default=16, metadata=_check(_positive, "an integer > 0 (simple_cnn first-block width)"))
    # Stride 4 (two stride-2 convs) at twice the resolution: stride 2's feature map, small products' pixels kept.
    cnn_stem_stride: int = field(
        default=2, metadata=_check(lambda v: 1 <= v <= 4, "an integer from 1 to 4 (simple_cnn stem stride)")
    )
    # Extra 3x3 convs at the stem's resolution: depth where a small product's edges and colours still have pixels.
    cnn_fine_convs: int = field(
        default=0, metadata=_check(lambda v: 0 <= v <= 4, "an integer from 0 to 4 (simple_cnn convs after the stem)")
    )
    dense_units: int = field(default=256, metadata=_check(_positive, "an integer > 0"))
    dropout: float = field(default=0.2, metadata=_check(lambda v: 0 <= v < 1, "a number from 0 to below 1"))
    batch_size: int = field(default=8, metadata=_check(_positive, "an integer > 0"))
    learning_rate: float = field(default=0.003, metadata=_check(_positive, "a number > 0"))
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    # Decoupled, as in AdamW: every step shrinks each weight by weight_decay x the learning rate.
    weight_decay: float = field(default=0.0, metadata=_check(_non_negative, "a number >= 0 (0 = off)"))
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    loss: Literal["bce", "weighted_bce", "focal"] = "weighted_bce"
    max_pos_weight: float = field(default=10.0, metadata=_check(lambda v: v >= 1, "a number >= 1"))
    epochs: int = field(default=40, metadata=_check(_positive, "an integer > 0"))
    patience: int = field(default=40, metadata=_check(_positive, "an integer > 0"))
    monitor: Literal[
        "val_pr_auc", "val_macro_f1", "val_loss", "val_binary_accuracy", "val_product_recall", "val_no_yerb_recall"
    ] = "val_pr_auc"
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    # float16 compute with float32 weights, outputs and loss: a GPU's tensor cores; slower on a CPU.
    mixed_precision: bool = False


@dataclass(frozen=True)
class EvaluateParams:
    threshold: float | Literal["tuned"] = field(
        default="tuned",
        metadata=_check(lambda v: v == "tuned" or 0 < v < 1, "a number between 0 and 1, or 'tuned'"),
    )
    worst_errors: int = field(default=8, metadata=_check(lambda v: 0 <= v <= 64, "an integer from 0 to 64"))


@dataclass(frozen=True)
class Params:
    # numpy's and TensorFlow's seeds are unsigned 32-bit.
    seed: int = field(default=42, metadata=_check(lambda v: 0 <= v < 2**32, "an integer from 0 to 4294967295"))
    image_size: int = field(default=128, metadata=_check(lambda v: 32 <= v <= 1024, "an integer from 32 to 1024"))
    scrape: ScrapeParams = field(default_factory=ScrapeParams)
    labels: LabelsParams = field(default_factory=LabelsParams)
    encode: EncodeParams = field(default_factory=EncodeParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    train: TrainParams = field(default_factory=TrainParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate a params file; raise :class:`UserError` on the first problem.

    Read as YAML 1.2, the way DVC (ruamel.yaml) writes it: ``dvc exp run -S
    train.learning_rate=0.00005`` stores ``5e-05``, which YAML 1.1 (PyYAML) reads as a string.
    """
    try:
        raw = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    return parse_params(raw or {}, source=str(path))


def _yaml_problem(exc: YAMLError) -> str:
    """ruamel's several-line message as one line: what is wrong, and where."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem is None:
        return str(exc).splitlines()[0]
    return f"{problem.splitlines()[0]}, line {mark.line + 1}" if mark is not None else problem.splitlines()[0]


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Build :class:`Params` from an already-loaded mapping (what tests and `-S` overrides give)."""
    return _build(Params, raw, prefix="", source=source)


def _build(cls: type, raw: Any, prefix: str, source: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise UserError(f"{source}: {where} must be a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise UserError(f"{source}: unknown key '{prefix}{key}'{hint}; allowed keys: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        values[name] = _convert(hints[name], raw[name], key, source)
        check = f.metadata.get("check")
        if check and not check(values[name]):
            raise UserError(f"{source}: {key} = {raw[name]!r}; allowed: {f.metadata['allowed']}")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str, source: str) -> Any:
    """Check ``value`` against a type hint, converting ints to floats where a float is wanted."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, prefix=f"{key}.", source=source)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _convert(option, value, key, source)
            except UserError:
                continue
        raise UserError(f"{source}: {key} = {value!r}; allowed: {_describe(hint)}")
    if origin is Literal:
        if value in typing.get_args(hint):
            return value
        raise UserError(f"{source}: {key} = {value!r}; allowed: {_describe(hint)}")
    if origin is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise UserError(f"{source}: {key} = {value!r}; allowed: a list of strings")
    if origin is dict:
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        raise UserError(f"{source}: {key} = {value!r}; allowed: a mapping of label to label")
    if hint is type(None) and value is None:
        return None
    if hint is bool and isinstance(value, bool):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str) and isinstance(value, hint) and not isinstance(value, bool):
        return value
    raise UserError(f"{source}: {key} = {value!r}; allowed: {_describe(hint)}")


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " | ".join(str(v) for v in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_describe(option) for option in typing.get_args(hint))
    return {bool: "true | false", int: "an integer", float: "a number", str: "a string", type(None): "null"}.get(
        hint, str(hint)
    )


def changed_from_defaults(params: Any, defaults: Any = None, prefix: str = "") -> dict[str, Any]:
    """``{"train.learning_rate": 5e-05}``: every param whose value differs from the shipped default.

    The defaults here are params.yaml's as committed (a test keeps them equal), so this names
    what an experiment changed, for the header of ``reports/evaluation.md``.
    """
    defaults = type(params)() if defaults is None else defaults
    changed: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        value, default = getattr(params, f.name), getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            changed.update(changed_from_defaults(value, default, f"{prefix}{f.name}."))
        elif value != default:
            changed[f"{prefix}{f.name}"] = value
    return changed
