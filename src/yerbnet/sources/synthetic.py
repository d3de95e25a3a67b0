"""The default data set: Instagram-like photos of Guayakí products, rendered deterministically.

Real scraped photos cannot ship with the project, so the pipeline trains on scenes drawn
with Pillow + numpy: a background, clutter, people, mugs and other drinks as distractors,
and 0-3 product instances recognisable by family shape (tall can, slim can, glass bottle)
and flavour colours. Label frequencies mimic the real project's imbalance, and heavily
blurred products get only their base class, as the human labelling rule says.

Every post and every photo draws from its own numpy stream keyed by ``(seed, post[, item])``,
so a photo depends only on its seed and position, never on global random state.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from tqdm import tqdm

from yerbnet.classtree.taxonomy import LEAVES, NO_YERB, parent
from yerbnet.labels import azure
from yerbnet.sources.manifest import IMAGES_DIR, MANIFEST, SYNTHETIC_EXPORT, save_jpeg, write_manifest

Colour = tuple[int, ...]
Box = tuple[float, float, float, float]  # x, y, width, height
Draw = ImageDraw.ImageDraw
Rng = np.random.Generator
Painter = Callable[[Draw, Box], None]

START = datetime(2016, 1, 1, tzinfo=UTC)
SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SIZES = ((320, 320), (320, 400), (320, 240))  # square, 4:5 portrait, landscape
SIZE_WEIGHTS = (0.6, 0.25, 0.15)
LOG_GAP_RANGE = (math.log(3600), math.log(4 * 86400))  # seconds between posts: 1 hour to 4 days
P_CAROUSEL, P_NO_PRODUCT, P_PARTIAL, P_BLURRED = 0.15, 0.55, 0.10, 0.10
INSTANCE_COUNTS, INSTANCE_COUNT_WEIGHTS = (1, 2, 3), (0.70, 0.22, 0.08)

# leaf -> (relative frequency of an instance, primary colour, accent colour)
FLAVOURS: dict[str, tuple[float, Colour, Colour]] = {
    "Cans/Enlightenmint": (10, (0, 150, 140), (245, 245, 245)),
    "Cans/Revelberry": (9, (205, 20, 125), (70, 20, 90)),
    "Cans/Bluephoria": (7, (35, 65, 200), (140, 200, 245)),
    "Cans/Lemon": (5, (245, 215, 40), (50, 145, 50)),
    "Cans/Other": (3, (25, 25, 25), (150, 150, 150)),
    "Cans/Slim/Gold": (6, (205, 160, 50), (20, 20, 20)),
    "Cans/Slim/Cranpom": (5, (150, 15, 35), (245, 150, 180)),
    "Cans/Slim/Blackberry": (3.5, (75, 30, 115), (15, 10, 20)),
    "Cans/Slim/Grapefruit Ginger": (3, (250, 120, 90), (250, 220, 60)),
    "Cans/Slim/Lima Limon": (3, (160, 215, 40), (20, 90, 40)),
    "Cans/Slim/Other": (2.5, (240, 240, 235), (245, 130, 20)),
    "Bottles/Mint": (6, (40, 160, 80), (245, 245, 245)),
    "Bottles/Raspberry": (4.5, (210, 30, 50), (245, 245, 245)),
    "Bottles/Original(Traditional)": (5, (120, 75, 40), (240, 225, 185)),
    "Bottles/Passion": (3.5, (245, 140, 30), (200, 30, 40)),
    "Bottles/Other": (2.5, (150, 200, 235), (15, 15, 15)),
}
PRODUCT_LEAVES = tuple(leaf for leaf in LEAVES if leaf != NO_YERB)
LEAF_P = np.array([FLAVOURS[leaf][0] for leaf in PRODUCT_LEAVES]) / sum(v[0] for v in FLAVOURS.values())
ASPECTS = {"Cans": 2.1, "Cans/Slim": 3.4, "Bottles": 2.9}  # height / width per family

SILVER, DARK_SILVER, CAP = (205, 207, 212), (120, 122, 128), (185, 160, 95)
PRODUCT_GLASS = ((205, 150, 70, 215), (180, 215, 175, 170))  # light amber, clear-green
PLAIN_GLASS = ((95, 50, 20, 235), (215, 230, 230, 130))  # brown, clear
SKIN = ((241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 60, 40))


def scrape_synthetic(raw_dir: Path, images: int, seed: int) -> int:
    """Render the embedded data set, plus the Azure-style labels export a labeller would give; return its size."""
    records, export_rows = [], []
    for photo in tqdm(render_photos(images, seed), total=images, desc="scrape synthetic", unit="img"):
        record = save_jpeg(
            photo.image,
            raw_dir / IMAGES_DIR / photo.file_name,
            photo.file_name,
            "synthetic",
            photo.shortcode,
            photo.date_utc,
            photo.carousel_index,
        )
        records.append(record)
        export_rows.append((azure.datastore_url(photo.file_name), list(photo.labels)))
    write_manifest(raw_dir / MANIFEST, sorted(records, key=lambda record: record.file))
    azure.write_csv_export(raw_dir / SYNTHETIC_EXPORT, export_rows)
    return len(records)


@dataclass(frozen=True)
class SyntheticPhoto:
    """One rendered image with the metadata instaloader would give and an annotator's labels."""

    file_name: str
    shortcode: str
    date_utc: datetime
    carousel_index: int
    image: Image.Image
    labels: tuple[str, ...]


def render_photos(images: int, seed: int) -> Iterator[SyntheticPhoto]:
    """Yields exactly ``images`` photos (a generator: never holds them all in memory).

    ``seed`` must be non-negative (numpy seed sequences reject negative entropy).
    """
    date, post, produced = START, 0, 0
    while produced < images:
        rng = _rng(seed, post)
        # The first post lands on 2016-01-01; later gaps are log-uniform from 1 hour to 4 days.
        gap = rng.integers(0, 86399) if post == 0 else math.exp(rng.uniform(*LOG_GAP_RANGE))
        date += timedelta(seconds=int(gap) + 1)  # +1: strictly increasing, so file names never collide
        shortcode = _shortcode(rng, post)
        count = min(int(rng.integers(2, 5)) if rng.random() < P_CAROUSEL else 1, images - produced)
        stamp = date.strftime("%Y-%m-%d_%H-%M-%S_UTC")
        for item in range(count):
            index = item + 1 if count > 1 else 0  # a sidecar truncated to one image is a plain post
            image, labels = _render_photo(_rng(seed, post, index))
            name = f"{stamp}_{index}.jpg" if index else f"{stamp}.jpg"
            yield SyntheticPhoto(name, shortcode, date, index, image, labels)
        produced += count
        post += 1


def _rng(seed: int, *key: int) -> Rng:
    """An independent stream per ``(seed, key)``.

    Not ``default_rng([seed, *key])``: numpy zero-pads short entropy, so ``[s, p]`` and
    ``[s, p, 0]`` would be the same stream and a post's draws would steer its image's.
    Spawn keys of different lengths never collide.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _shortcode(rng: Rng, post: int) -> str:
    """11 base64 digits of 66 bits: the post index and 40 random bits, hence unique.

    Multiplying by an odd constant modulo 2**66 is a bijection that spreads the index bits.
    """
    value = ((post << 40) | int(rng.integers(0, 2**40))) * 0x2545F4914F6CDD1D % 2**66
    return "".join(SHORTCODE_ALPHABET[(value >> shift) & 63] for shift in range(60, -1, -6))


def _render_photo(rng: Rng) -> tuple[Image.Image, tuple[str, ...]]:
    """A whole scene plus the set of labels of the products placed in it."""
    instances: list[tuple[str, bool]] = []  # (leaf, blurred)
    if rng.random() >= P_NO_PRODUCT:
        count = rng.choice(INSTANCE_COUNTS, p=INSTANCE_COUNT_WEIGHTS)
        leaves = rng.choice(len(PRODUCT_LEAVES), size=count, p=LEAF_P)
        instances = [(PRODUCT_LEAVES[i], bool(rng.random() < P_BLURRED)) for i in leaves]
    width, height = SIZES[rng.choice(len(SIZES), p=SIZE_WEIGHTS)]
    horizon = int(height * rng.uniform(0.35, 0.75))
    scene = _background(rng, width, height, horizon)
    draw = ImageDraw.Draw(scene, "RGBA")
    for _ in range(rng.integers(2, 8)):
        CLUTTER[rng.choice(len(CLUTTER), p=CLUTTER_WEIGHTS)](draw, rng, width, height, horizon)
    for _ in range(min(rng.poisson(1.2), 4)):
        _place_distractor(scene, rng, horizon)
    # One horizontal slot per instance so few hide the others; random drawing order.
    for slot in rng.permutation(len(instances)):
        leaf, blurred = instances[slot]
        _place_product(scene, rng, leaf, blurred, (slot + rng.uniform(0.25, 0.75)) * width / len(instances))
    labels = {parent(leaf) if blurred else leaf for leaf, blurred in instances}
    return _finish(scene, rng), tuple(sorted(labels)) or (NO_YERB,)


def _colour(rng: Rng, low: int = 30, high: int = 230) -> Colour:
    """A random colour; the bounds keep clutter off pure black and white."""
    return tuple(int(c) for c in rng.integers(low, high, 3))


def _muted(colour: Colour) -> Colour:
    """Halfway to grey: walls and tables are rarely as saturated as a can."""
    grey = sum(colour) / 3
    return tuple(int((c + grey) / 2) for c in colour)


def _background(rng: Rng, width: int, height: int, horizon: int) -> Image.Image:
    """Vertical gradient for a sky or wall above the horizon, a table or floor below it."""
    wall = _muted(_colour(rng, 60, 240))
    wood = tuple(int(c) for c in rng.integers((110, 70, 35), (190, 130, 80)))
    table = wood if rng.random() < 0.5 else _muted(_colour(rng))
    rows = np.empty((height, 3), np.float32)
    rows[:horizon] = np.linspace(wall, np.clip(np.array(wall) + rng.integers(-50, 50, 3), 0, 255), horizon)
    rows[horizon:] = np.linspace(table, np.array(table) * 0.7, height - horizon)
    # Light from one side: two columns, stretched sideways by the (fast, C) bilinear resize.
    side = 1 + rng.uniform(-0.12, 0.12) * np.array([-1, 1], np.float32)
    columns = np.clip(rows[:, None, :] * side[None, :, None], 0, 255).astype(np.uint8)
    scene = Image.fromarray(columns, "RGB").resize((width, height), Image.Resampling.BILINEAR)
    edge = max(2, height // 80)  # the darker table edge
    edge_colour = tuple(int(c * 0.6) for c in table)
    ImageDraw.Draw(scene).rectangle((0, horizon, width, horizon + edge), fill=edge_colour)
    return scene


def _blob(draw: Draw, rng: Rng, width: int, height: int, horizon: int) -> None:
    """A random box or ellipse: furniture, frames, a window, a lamp."""
    x, y = rng.integers(-width // 4, width), rng.integers(-height // 4, height)
    box = (x, y, x + rng.integers(width // 10, width // 2), y + rng.integers(height // 10, height // 2))
    shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
    shape(box, fill=_colour(rng) + (int(rng.integers(120, 256)),))


def _plant(draw: Draw, rng: Rng, width: int, height: int, horizon: int) -> None:
    """A potted plant: terracotta pot and leaf-shaped polygons."""
    x, base, size = rng.integers(0, width), rng.integers(horizon, height), rng.integers(height // 8, height // 3)
    rim = base - size / 3
    draw.polygon(
        [(x - size / 3, rim), (x + size / 3, rim), (x + size / 4, base), (x - size / 4, base)], fill=(170, 85, 50)
    )
    for _ in range(rng.integers(4, 10)):
        angle, length = rng.uniform(-0.9 * math.pi, -0.1 * math.pi), size * rng.uniform(0.5, 1.1)
        dx, dy = math.cos(angle) * length, math.sin(angle) * length
        mx, my, nx, ny = x + dx / 2, rim + dy / 2, -dy * 0.18, dx * 0.18
        green = (int(rng.integers(20, 90)), int(rng.integers(100, 180)), int(rng.integers(20, 80)))
        draw.polygon([(x, rim), (mx + nx, my + ny), (x + dx, rim + dy), (mx - nx, my - ny)], fill=green)


def _books(draw: Draw, rng: Rng, width: int, height: int, horizon: int) -> None:
    """A stack of books lying on the table."""
    x, y = rng.integers(-width // 8, width), rng.integers(horizon, height)
    for _ in range(rng.integers(2, 6)):
        left, thick = x + rng.integers(-8, 9), rng.integers(height // 40 + 2, height // 15 + 3)
        draw.rectangle((left, y - thick, left + rng.integers(width // 6, width // 3), y), fill=_colour(rng))
        y -= thick


def _person(draw: Draw, rng: Rng, width: int, height: int, horizon: int) -> None:
    """Head, hair and torso running off the bottom of the frame."""
    r, cx, cy = height * rng.uniform(0.06, 0.12), rng.uniform(0, width), height * rng.uniform(0.15, 0.6)
    draw.rounded_rectangle((cx - 2 * r, cy + 0.9 * r, cx + 2 * r, height + r), radius=r, fill=_colour(rng))
    head = (cx - r, cy - 1.15 * r, cx + r, cy + 1.15 * r)
    draw.ellipse(head, fill=SKIN[rng.integers(len(SKIN))])
    draw.chord(head, 180, 360, fill=_colour(rng, 10, 120))


CLUTTER = (_blob, _plant, _books, _person)
CLUTTER_WEIGHTS = (0.5, 0.15, 0.15, 0.2)


def _cylinder(draw: Draw, box: Box, body: Colour, rim: float) -> None:
    """A metal can: dark bottom ellipse, coloured body, silver top ellipse ``rim`` * width high."""
    x, y, w, h = box
    e = max(2.0, w * rim)
    draw.ellipse((x, y + h - e, x + w, y + h), fill=DARK_SILVER)
    draw.rectangle((x, y + e / 2, x + w, y + h - e / 2), fill=body)
    draw.ellipse((x, y, x + w, y + e), fill=SILVER, outline=DARK_SILVER)


def _draw_can(draw: Draw, box: Box, primary: Colour, accent: Colour) -> None:
    """Tall 16 oz can: white band with a logo mark in the upper third, an accent stripe below."""
    x, y, w, h = box
    _cylinder(draw, box, primary, 0.22)
    draw.rectangle((x, y + h - 0.11 * w - 0.04 * h, x + w, y + h - 0.11 * w), fill=SILVER)
    draw.rectangle((x, y + 0.18 * h, x + w, y + 0.36 * h), fill=(245, 245, 245))
    draw.ellipse((x + 0.35 * w, y + 0.23 * h, x + 0.65 * w, y + 0.31 * h), fill=(30, 30, 30))
    draw.rectangle((x, y + 0.5 * h, x + w, y + 0.6 * h), fill=accent)


def _draw_slim(draw: Draw, box: Box, primary: Colour, accent: Colour) -> None:
    """Slim can: thin silver top and a vertical accent stripe."""
    x, y, w, h = box
    _cylinder(draw, box, primary, 0.2)
    draw.rectangle((x, y + 0.1 * w, x + w, y + 0.06 * h), fill=SILVER)
    draw.rectangle((x + 0.55 * w, y + 0.12 * h, x + 0.8 * w, y + 0.92 * h), fill=accent)


def _draw_soda(draw: Draw, box: Box, body: Colour, stripe: Colour) -> None:
    """Distractor: a short, wide soda can without the white band."""
    x, y, w, h = box
    _cylinder(draw, box, body, 0.25)
    draw.rectangle((x, y + 0.3 * h, x + w, y + 0.5 * h), fill=stripe)


def _draw_bottle(draw: Draw, box: Box, glass: Colour, label: tuple[Colour, Colour] | None) -> None:
    """Glass bottle with rounded shoulders, neck and cap; products carry a coloured label."""
    x, y, w, h = box
    draw.rectangle((x + 0.34 * w, y + 0.05 * h, x + 0.66 * w, y + 0.3 * h), fill=glass)
    draw.ellipse((x, y + 0.22 * h, x + w, y + 0.5 * h), fill=glass)
    draw.rounded_rectangle((x, y + 0.36 * h, x + w, y + h), radius=0.12 * w, fill=glass)
    draw.rectangle((x + 0.3 * w, y, x + 0.7 * w, y + 0.06 * h), fill=CAP)
    if label:
        draw.rectangle((x, y + 0.46 * h, x + w, y + 0.86 * h), fill=label[0])
        draw.rectangle((x, y + 0.6 * h, x + w, y + 0.68 * h), fill=label[1])


def _draw_mug(draw: Draw, box: Box, body: Colour) -> None:
    """Distractor: a tea mug with a handle, seen slightly from above."""
    x, y, w, h = box
    cup = 0.78 * w
    handle = (x + cup - 0.12 * w, y + 0.2 * h, x + w, y + 0.7 * h)
    draw.ellipse(handle, outline=body, width=max(2, int(w / 12)))
    draw.rectangle((x, y + 0.08 * h, x + cup, y + h), fill=body)
    draw.ellipse((x, y, x + cup, y + 0.16 * h), fill=(110, 60, 25), outline=body, width=2)


def _draw_cup(draw: Draw, box: Box, body: Colour, sleeve: Colour) -> None:
    """Distractor: a tapered take-away cup with lid and sleeve."""
    x, y, w, h = box
    draw.polygon([(x, y + 0.1 * h), (x + w, y + 0.1 * h), (x + 0.85 * w, y + h), (x + 0.15 * w, y + h)], fill=body)
    draw.polygon(
        [
            (x + 0.06 * w, y + 0.4 * h),
            (x + 0.94 * w, y + 0.4 * h),
            (x + 0.9 * w, y + 0.68 * h),
            (x + 0.1 * w, y + 0.68 * h),
        ],
        fill=sleeve,
    )
    draw.rectangle((x - 0.03 * w, y, x + 1.03 * w, y + 0.12 * h), fill=(240, 240, 240))


def _distractor(rng: Rng) -> tuple[Painter, float]:
    """A random non-product object and its height/width ratio."""
    kind = rng.choice(4, p=(0.25, 0.2, 0.35, 0.2))
    if kind == 0:
        # Muted: other brands' cans are told apart by shape and by not wearing a flavour's colours.
        return partial(_draw_soda, body=_muted(_colour(rng)), stripe=_muted(_colour(rng))), rng.uniform(1.3, 1.7)
    if kind == 1:
        return partial(_draw_bottle, glass=PLAIN_GLASS[rng.integers(2)], label=None), rng.uniform(2.6, 3.2)
    if kind == 2:
        return partial(_draw_mug, body=_colour(rng, 60, 250)), rng.uniform(0.8, 1.0)
    return partial(_draw_cup, body=_colour(rng, 150, 250), sleeve=_colour(rng)), rng.uniform(1.2, 1.5)


def _layer(width: int, height: int, paint: Painter, angle: float, blur: float) -> Image.Image:
    """Paint one object on its own RGBA layer, shade it like a cylinder, blur and rotate it.

    Blur and rotation work on premultiplied alpha (RGBa) so no dark fringe appears.
    """
    pad = 2 + int(3 * blur)
    layer = Image.new("RGBA", (width + 2 * pad, height + 2 * pad), (0, 0, 0, 0))
    paint(ImageDraw.Draw(layer), (pad, pad, width, height))
    pixels = np.array(layer)
    t = np.linspace(-1, 1, width, dtype=np.float32)
    shade = 0.78 + 0.22 * (1 - t**2) + 0.25 * np.exp(-(((t + 0.4) / 0.15) ** 2))
    pixels[:, pad : pad + width, :3] = np.clip(pixels[:, pad : pad + width, :3] * shade[None, :, None], 0, 255)
    layer = Image.fromarray(pixels, "RGBA").convert("RGBa")
    if blur:
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
    return layer.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True).convert("RGBA")


def _paste(scene: Image.Image, layer: Image.Image, cx: float, cy: float) -> None:
    """Alpha-composite ``layer`` centred at (cx, cy); parts outside the frame are clipped."""
    scene.paste(layer, (round(cx - layer.width / 2), round(cy - layer.height / 2)), layer)


def _between(rng: Rng, low: float, high: float) -> float:
    """Uniform in [low, high], or the midpoint when the object is too big for the range."""
    return rng.uniform(low, high) if low < high else (low + high) / 2


def _place_distractor(scene: Image.Image, rng: Rng, horizon: int) -> None:
    """Another drink or a mug, so that "a cylinder" alone does not mean a product."""
    paint, aspect = _distractor(rng)
    height = int(scene.height * rng.uniform(0.12, 0.4))
    layer = _layer(max(4, round(height / aspect)), height, paint, rng.uniform(-15, 15), 0.0)
    # Standing on the table: the bottom edge between the horizon and just below the frame.
    cy = _between(rng, horizon - layer.height / 2, scene.height - layer.height / 4)
    _paste(scene, layer, rng.uniform(0, scene.width), cy)


def _place_product(scene: Image.Image, rng: Rng, leaf: str, blurred: bool, slot_x: float) -> None:
    """Draw one product instance: random scale and tilt, sometimes cut by the frame or blurred."""
    family, (_, primary, accent) = parent(leaf), FLAVOURS[leaf]
    if family == "Bottles":
        paint = partial(_draw_bottle, glass=PRODUCT_GLASS[rng.integers(2)], label=(primary, accent))
    else:
        paint = partial(_draw_can if family == "Cans" else _draw_slim, primary=primary, accent=accent)
    height = int(scene.height * rng.uniform(0.40, 0.80))
    width = max(4, round(height / ASPECTS[family]))
    angle = rng.uniform(-25, 25)
    # Radius ~ a third of the width smears the bands into one colour: the flavour is unreadable.
    layer = _layer(width, height, paint, angle, width / 3 if blurred else 0.0)
    # Frame tests use the rotated product's box (pw, ph), not the layer with its blur padding.
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    pw, ph, sw, sh = width * cos + height * sin, width * sin + height * cos, scene.width, scene.height
    cx = min(max(slot_x, pw / 2), sw - pw / 2) if pw < sw else sw / 2
    cy = _between(rng, ph / 2, sh - ph / 2)
    if rng.random() < P_PARTIAL:
        visible, edge = rng.uniform(0.3, 0.6), rng.integers(3)
        if edge == 0:
            cx = pw * (visible - 0.5)
        elif edge == 1:
            cx = sw + pw * (0.5 - visible)
        else:
            cy = sh + ph * (0.5 - visible)
    _paste(scene, layer, cx, cy)


def _finish(scene: Image.Image, rng: Rng) -> Image.Image:
    """Camera look: colour cast and exposure, sensor noise, then a JPEG round trip."""
    gain = rng.uniform(0.85, 1.1) * rng.uniform(0.93, 1.07, 3)
    scene = scene.point([min(255, int(i * g)) for g in gain for i in range(256)])
    noise = rng.integers(124, 133, (scene.height, scene.width, 3), dtype=np.uint8)  # 128 +- 4
    scene = ImageChops.add(scene, Image.fromarray(noise, "RGB"), 1.0, -128)
    buffer = io.BytesIO()
    scene.save(buffer, format="JPEG", quality=int(rng.integers(70, 95)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
