"""A realistic evaluation set: Guayakí products pasted small into real photographs.

The embedded data set (``scrape.source: synthetic``) is drawn by code developed together
with the model, so a change can look good there and help nowhere else. This set is made
independently of it: the backgrounds are crops of the real photographs that scikit-learn
and scikit-image ship inside their wheels (nothing is downloaded), and the products are
this file's own sprites: tall cans, slim cans and glass bottles whose flavours, within a
family, differ only in their colours. They are pasted small (15-40 % of the frame height),
sometimes squeezed as if seen at an angle, turned or lying, cut by the frame or partly
hidden, among other brands' cans and bottles, mugs and boxes. Never tune the embedded
renderer toward this set: it exists to tell whether a change helps on photos nobody drew
for the model.

    python benchmarks/realistic_set.py --out /tmp/yerbnet-realistic [--images 1200] [--seed 0]

Writes OUT/photos/real_NNNNN.jpg (every 20th in a dated subfolder, as uploads often are)
and OUT/labels.csv, an Azure ML Data Labeling CSV export (``Url,Label``) naming the leaf
labels only (the pipeline adds the ancestors). labels.csv is written last, so its presence
marks a complete set. Everything follows from --seed: two runs write byte-identical files.
"""

from __future__ import annotations

import argparse
import colorsys
import csv
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage import data as skimage_data
from sklearn.datasets import load_sample_images

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]
NO_YERB = "No Yerb"
URL_PREFIX = "AmlDatastore://workspaceblobstore/UI/2026-12-01/"
SUBFOLDER, SUBFOLDER_EVERY = "2026-12-01", 20
NO_YERB_SHARE = 0.56
PRODUCTS_PER_IMAGE = (0.6, 0.28, 0.12)  # one, two, three products
SAME_AGAIN = 0.4  # a further product repeats the previous flavour (a pack, a shelf)
CUT_SHARE = 0.12  # products partly outside the frame
HIDDEN_SHARE = 0.15  # products partly behind a distractor
THIN_SHARE = 0.3  # products squeezed sideways, as seen at an angle
LYING_SHARE = 0.08  # products lying on their side
ASPECTS = (1.0, 0.8, 1.25, 0.75, 4 / 3, 16 / 9, 9 / 16)  # width / height of the photos
SILVER = (196, 198, 204)
TEA = (118, 76, 30)  # the brewed yerba mate seen through a Guayakí bottle
WORDS = ("COLA", "FIZZ", "TONIC", "BREW", "ZEST", "SODA", "KOMBUCHA", "ENERGY", "AGUA", "LAGER")


@dataclass(frozen=True)
class Look:
    """How one flavour is printed: body colour, label band colour, thin accent stripes."""

    body: RGB
    band: RGB
    accent: RGB


# Leaf label (the seed study's names) -> (relative frequency, looks). An "Other" leaf stands
# for flavours outside the study, so it has several looks. Frequencies give the study's kind
# of imbalance: at 1200 images the rarest flavours are in 20-30 images, Enlightenmint in ~140.
PRODUCTS: dict[str, tuple[float, tuple[Look, ...]]] = {
    "Cans/Enlightenmint": (24, (Look((60, 175, 140), (235, 245, 235), (20, 90, 70)),)),
    "Cans/Revelberry": (9, (Look((175, 35, 95), (250, 190, 215), (90, 20, 60)),)),
    "Cans/Bluephoria": (7, (Look((35, 85, 190), (150, 200, 245), (15, 35, 100)),)),
    "Cans/Lemon": (5, (Look((245, 215, 45), (255, 250, 210), (60, 140, 60)),)),
    "Cans/Other": (
        5,
        (
            Look((240, 130, 40), (255, 225, 170), (120, 50, 10)),
            Look((120, 70, 160), (230, 210, 245), (50, 20, 80)),
            Look((250, 175, 150), (255, 240, 225), (170, 70, 60)),
        ),
    ),
    "Cans/Slim/Gold": (13, (Look((200, 160, 60), (30, 30, 30), (250, 235, 180)),)),
    "Cans/Slim/Cranpom": (6, (Look((150, 20, 45), (245, 205, 205), (60, 10, 20)),)),
    "Cans/Slim/Blackberry": (5, (Look((65, 30, 85), (185, 150, 215), (20, 10, 30)),)),
    "Cans/Slim/Grapefruit Ginger": (5, (Look((245, 125, 105), (255, 220, 90), (140, 50, 40)),)),
    "Cans/Slim/Lima Limon": (5, (Look((150, 205, 50), (250, 250, 240), (40, 100, 30)),)),
    "Cans/Slim/Other": (
        5,
        (Look((30, 150, 160), (210, 240, 240), (10, 60, 70)), Look((140, 90, 50), (240, 215, 170), (60, 35, 15))),
    ),
    "Bottles/Mint": (6, (Look((40, 140, 80), (230, 240, 220), (15, 60, 35)),)),
    "Bottles/Raspberry": (5, (Look((210, 45, 80), (255, 215, 225), (110, 15, 40)),)),
    "Bottles/Original(Traditional)": (6, (Look((235, 220, 180), (110, 70, 35), (50, 30, 15)),)),
    "Bottles/Passion": (5, (Look((250, 140, 30), (255, 230, 120), (150, 60, 10)),)),
    "Bottles/Other": (
        5,
        (Look((90, 60, 140), (220, 205, 240), (40, 25, 70)), Look((100, 180, 220), (230, 245, 250), (20, 70, 110))),
    ),
}
LEAVES = tuple(PRODUCTS)
LEAF_P = np.array([PRODUCTS[leaf][0] for leaf in LEAVES]) / sum(v[0] for v in PRODUCTS.values())


def photographs() -> list[np.ndarray]:
    """The scene photographs inside the installed wheels, as RGB arrays (grey ones stacked).

    Only files that the wheels ship are used (skimage's pooch-fetched images are not);
    scientific images (microscopy, retina, Hubble) are left out: nobody posts a drink on them.
    """
    grey = (skimage_data.camera(), skimage_data.brick(), skimage_data.grass(), skimage_data.gravel())
    return [
        *load_sample_images().images,
        skimage_data.astronaut(),
        skimage_data.chelsea(),
        skimage_data.coffee(),
        skimage_data.rocket(),
        skimage_data.stereo_motorcycle()[0],
        *(np.stack([g] * 3, axis=-1) for g in grey),
    ]


def background(rng: np.random.Generator, photos: list[np.ndarray]) -> Image.Image:
    """A random crop of a photo, flipped at times, scaled to an Instagram-like frame (480-1080 px sides)."""
    photo = photos[rng.integers(len(photos))]
    ratio = ASPECTS[rng.integers(len(ASPECTS))]
    long = int(rng.integers(640, 1081))
    size = (long, max(480, round(long / ratio))) if ratio >= 1 else (max(480, round(long * ratio)), long)
    height, width = photo.shape[:2]
    crop_h = min(height, width * size[1] / size[0]) * rng.uniform(0.45, 1.0)
    crop_w = crop_h * size[0] / size[1]
    x, y = rng.uniform(0, width - crop_w), rng.uniform(0, height - crop_h)
    image = Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC, box=(x, y, x + crop_w, y + crop_h))
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image


def random_colour(rng: np.random.Generator) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.25, 1.0), rng.uniform(0.3, 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


@lru_cache(maxsize=1)
def font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(64)


def letter(
    image: Image.Image, word: str, colour: RGB, box: tuple[float, float, float, float], vertical: bool = False
) -> None:
    """Print ``word`` stretched over ``box`` (vertical text reads bottom to top, as on a can)."""
    left, top, right, bottom = font().getbbox(word)
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), word, fill=255, font=font())
    if vertical:
        mask = mask.rotate(90, expand=True)
    x0, y0, x1, y1 = (round(v) for v in box)
    image.paste(colour, (x0, y0), mask.resize((max(1, x1 - x0), max(1, y1 - y0)), Image.Resampling.LANCZOS))


def cylinder(image: Image.Image, light: float, gloss: float) -> Image.Image:
    """Shade ``image`` as a lit cylinder: darker towards the edges, a vertical highlight at ``light`` (-1..1)."""
    pixels = np.asarray(image).astype(np.float32)
    u = np.linspace(-1.0, 1.0, pixels.shape[1])
    profile = (0.5 + 0.5 * np.sqrt(1.0 - u**2)) * (1.0 + 0.15 * light * u)
    shine = gloss * np.exp(-(((u - light) / 0.12) ** 2))
    rgb = pixels[..., :3] * profile[None, :, None]
    pixels[..., :3] = rgb * (1 - shine[None, :, None]) + 255 * shine[None, :, None]
    return Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8), "RGBA")


def can(base: RGB, width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """An unprinted can body to paint on; :func:`close_can` adds the metal ends and the outline."""
    image = Image.new("RGBA", (width, height), base + (255,))
    return image, ImageDraw.Draw(image)


def close_can(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Silver lid and base, the outline with its narrower neck, then cylinder shading."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 0.055 * height), fill=SILVER)
    draw.rectangle((0, 0.975 * height, width, height), fill=SILVER)
    draw.line((0, 0.055 * height, width, 0.055 * height), fill=(120, 122, 128), width=max(1, height // 150))
    mask = Image.new("L", image.size, 0)
    outline = ImageDraw.Draw(mask)
    outline.rounded_rectangle((0, 0.035 * height, width - 1, height - 1), radius=max(1, width // 7), fill=255)
    outline.rounded_rectangle((0.08 * width, 0, 0.92 * width, 0.06 * height), radius=max(1, width // 12), fill=255)
    image.putalpha(mask)
    return cylinder(image, rng.uniform(-0.6, 0.6), rng.uniform(0.25, 0.55))


def guayaki_can(look: Look, height: int, slim: bool, rng: np.random.Generator) -> Image.Image:
    """Vertical brand lettering on the flavour colours; a straight band on tall cans, a slanted one on slim cans."""
    width = round(height * (0.30 if slim else 0.44))
    image, draw = can(look.body, width, height)
    stripe = max(1, height // 100)
    if slim:
        edge = [(0, 0.62 * height), (width, 0.48 * height)]
        draw.polygon([*edge, (width, height), (0, height)], fill=look.band)
        draw.line(edge, fill=look.accent, width=2 * stripe)
        draw.ellipse((0.3 * width, 0.7 * height, 0.7 * width, 0.7 * height + 0.4 * width), fill=look.accent)
    else:
        draw.rectangle((0, 0.46 * height, width, 0.80 * height), fill=look.band)
        for y in (0.46 * height, 0.80 * height):
            draw.rectangle((0, y - stripe, width, y + stripe), fill=look.accent)
        draw.ellipse((0.28 * width, 0.55 * height, 0.72 * width, 0.71 * height), fill=look.accent)
    letter(image, "GUAYAKI", (250, 250, 245), (0.25 * width, 0.08 * height, 0.75 * width, 0.44 * height), vertical=True)
    return close_can(image, rng)


def other_can(height: int, rng: np.random.Generator) -> Image.Image:
    """Another brand's can: any colours, horizontal stripes or a round logo, a horizontal word."""
    width = round(height * rng.uniform(0.3, 0.5))
    image, draw = can(random_colour(rng), width, height)
    if rng.random() < 0.5:
        for top in np.sort(rng.uniform(0.1, 0.9, int(rng.integers(1, 4)))):
            draw.rectangle((0, top * height, width, (top + rng.uniform(0.03, 0.15)) * height), fill=random_colour(rng))
    else:
        draw.ellipse(
            (0.1 * width, 0.5 * height - 0.4 * width, 0.9 * width, 0.5 * height + 0.4 * width), fill=random_colour(rng)
        )
    word = WORDS[rng.integers(len(WORDS))]
    top = rng.uniform(0.15, 0.7) * height
    letter(image, word, random_colour(rng), (0.1 * width, top, 0.9 * width, top + 0.12 * height))
    return close_can(image, rng)


def bottle(
    height: int, ratio: float, neck: float, shoulder: float, glass: RGB, cap: RGB
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A glass bottle ``ratio`` as wide as tall, neck ``neck`` of the width, shoulders at ``shoulder`` of the height.

    Returns the still unshaded image and a pen, so a label can be printed before :func:`cylinder`.
    """
    width = round(height * ratio)
    left, right = (1 - neck) / 2 * width, (1 + neck) / 2 * width
    mask = Image.new("L", (width, height), 0)
    outline = ImageDraw.Draw(mask)
    outline.rectangle((left, 0, right, shoulder * height), fill=255)
    outline.ellipse((0, shoulder * height, width - 1, shoulder * height + 1.2 * width), fill=255)
    outline.rounded_rectangle((0, shoulder * height + 0.6 * width, width - 1, height - 1), radius=width // 6, fill=255)
    image = Image.new("RGBA", (width, height), glass + (255,))
    draw = ImageDraw.Draw(image)
    draw.rectangle((left, 0, right, 0.07 * height), fill=cap)
    image.putalpha(mask)
    return image, draw


def guayaki_bottle(look: Look, height: int, rng: np.random.Generator) -> Image.Image:
    """Tea-brown glass, a label in the flavour colours with a band across it and the brand on top."""
    image, draw = bottle(height, 0.32, 0.36, 0.17, TEA, look.accent)
    width = image.width
    draw.rectangle((0, 0.46 * height, width, 0.84 * height), fill=look.body)
    draw.rectangle((0, 0.63 * height, width, 0.73 * height), fill=look.band)
    draw.rectangle((0.32 * width, 0.11 * height, 0.68 * width, 0.15 * height), fill=look.band)
    letter(image, "GUAYAKI", look.accent, (0.12 * width, 0.50 * height, 0.88 * width, 0.58 * height))
    return cylinder(image, rng.uniform(-0.6, 0.6), rng.uniform(0.4, 0.7))


def other_bottle(height: int, rng: np.random.Generator) -> Image.Image:
    """Wine, water or beer: its own glass, neck and a label of any colour."""
    ratio, neck, shoulder, glass = [
        (0.25, 0.30, 0.32, (30, 55, 35)),  # wine
        (0.30, 0.38, 0.12, (195, 215, 230)),  # water
        (0.28, 0.33, 0.24, (95, 55, 20)),  # beer
    ][rng.integers(3)]
    image, draw = bottle(height, ratio, neck, shoulder, glass, random_colour(rng))
    width, top = image.width, rng.uniform(0.45, 0.6) * height
    label = random_colour(rng)
    draw.rectangle((0, top, width, top + 0.25 * height), fill=label)
    letter(
        image,
        WORDS[rng.integers(len(WORDS))],
        random_colour(rng),
        (0.1 * width, top + 0.06 * height, 0.9 * width, top + 0.14 * height),
    )
    return cylinder(image, rng.uniform(-0.6, 0.6), rng.uniform(0.3, 0.7))


def mug(height: int, rng: np.random.Generator) -> Image.Image:
    """A mug with a handle, coffee or tea inside."""
    body_w = round(height * rng.uniform(0.75, 1.0))
    colour = random_colour(rng)
    body = Image.new("RGBA", (body_w, height), colour + (255,))
    ImageDraw.Draw(body).ellipse((0, 0, body_w - 1, 0.18 * height), fill=(70, 42, 22, 255))
    mask = Image.new("L", body.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, body_w - 1, height - 1), radius=body_w // 6, fill=255)
    body.putalpha(mask)
    image = Image.new("RGBA", (round(body_w * 1.35), height), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse(
        (0.7 * body_w, 0.2 * height, 1.33 * body_w, 0.75 * height), outline=colour + (255,), width=max(2, height // 9)
    )
    image.alpha_composite(cylinder(body, rng.uniform(-0.6, 0.6), rng.uniform(0.1, 0.4)))
    return image


def box(height: int, rng: np.random.Generator) -> Image.Image:
    """A box seen from above the front: lit top, shaded side, something printed on the front."""
    width, depth = round(height * rng.uniform(0.6, 1.6)), round(0.25 * height)
    colour = (190, 150, 100) if rng.random() < 0.5 else random_colour(rng)
    image = Image.new("RGBA", (width + depth, height + depth), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, depth, width, height + depth), fill=colour)
    draw.polygon(
        [(0, depth), (depth, 0), (width + depth, 0), (width, depth)], fill=tuple(min(255, c + 40) for c in colour)
    )
    draw.polygon(
        [(width, depth), (width + depth, 0), (width + depth, height), (width, height + depth)],
        fill=tuple(c * 3 // 5 for c in colour),
    )
    draw.rectangle((0.15 * width, depth + 0.3 * height, 0.85 * width, depth + 0.6 * height), fill=random_colour(rng))
    letter(
        image,
        WORDS[rng.integers(len(WORDS))],
        random_colour(rng),
        (0.2 * width, depth + 0.35 * height, 0.8 * width, depth + 0.55 * height),
    )
    return image


def product(leaf: str, height: int, rng: np.random.Generator) -> Image.Image:
    looks = PRODUCTS[leaf][1]
    look = looks[rng.integers(len(looks))]
    if leaf.startswith("Bottles/"):
        return guayaki_bottle(look, height, rng)
    return guayaki_can(look, height, leaf.startswith("Cans/Slim/"), rng)


def distractor(height: int, rng: np.random.Generator) -> Image.Image:
    return (other_can, other_can, other_bottle, mug, box)[rng.integers(5)](height, rng)


def pose(sprite: Image.Image, height: int, rng: np.random.Generator) -> Image.Image:
    """Scale a sprite (drawn at twice the size) to ``height`` px, squeeze it at times, turn it, soften it."""
    squeeze = rng.uniform(0.72, 1.0) if rng.random() < THIN_SHARE else 1.0
    sprite = sprite.resize(
        (max(2, round(sprite.width * height / sprite.height * squeeze)), height), Image.Resampling.LANCZOS
    )
    angle = float(np.clip(rng.normal(0, 12), -35, 35))
    if rng.random() < LYING_SHARE:
        angle += 90 if rng.random() < 0.5 else -90
    turned = sprite.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    return turned.convert("RGBa").filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0))).convert("RGBA")


def paste(canvas: Image.Image, sprite: Image.Image, x: int, y: int, rng: np.random.Generator) -> Box:
    """Paste with a soft contact shadow, its brightness matched to the spot; return its box in the frame."""
    alpha = sprite.getchannel("A")
    shadow = alpha.filter(ImageFilter.GaussianBlur(max(1.0, sprite.height / 25))).point(lambda v: v * 2 // 5)
    canvas.paste((0, 0, 0), (x + sprite.width // 12, y + sprite.height // 30), shadow)
    box_ = (max(0, x), max(0, y), min(canvas.width, x + sprite.width), min(canvas.height, y + sprite.height))
    spot = np.asarray(canvas.crop(box_)).mean() if box_[2] > box_[0] and box_[3] > box_[1] else 128.0
    pixels = np.asarray(sprite).astype(np.float32)
    pixels[..., :3] *= (0.7 + 0.4 * spot / 255) * rng.uniform(0.9, 1.1)
    lit = Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8), "RGBA")
    canvas.paste(lit, (x, y), alpha)
    return x, y, x + sprite.width, y + sprite.height


def put(canvas: Image.Image, sprite: Image.Image, rng: np.random.Generator, cut: bool) -> Box:
    """Paste at a random spot inside the frame or, when ``cut``, with 15-45 % of it beyond one edge."""
    x = int(rng.integers(0, max(1, canvas.width - sprite.width)))
    y = int(rng.integers(0, max(1, canvas.height - sprite.height)))
    if cut:
        beyond = rng.uniform(0.15, 0.45)
        edge = rng.integers(4)
        if edge == 0:
            x = -round(beyond * sprite.width)
        elif edge == 1:
            x = canvas.width - round((1 - beyond) * sprite.width)
        elif edge == 2:
            y = -round(beyond * sprite.height)
        else:
            y = canvas.height - round((1 - beyond) * sprite.height)
    return paste(canvas, sprite, x, y, rng)


def hide(canvas: Image.Image, behind: Box, rng: np.random.Generator) -> None:
    """Put a distractor in front of a product, covering 20-45 % of its width from one side."""
    x0, y0, x1, y1 = behind
    height = round((y1 - y0) * rng.uniform(0.5, 0.9))
    sprite = pose(distractor(2 * height, rng), height, rng)
    cover = round(rng.uniform(0.2, 0.45) * (x1 - x0))
    x = x1 - cover if rng.random() < 0.5 else x0 + cover - sprite.width
    paste(canvas, sprite, x, y1 - sprite.height + round(rng.uniform(-0.05, 0.1) * (y1 - y0)), rng)


def leaves_in_photo(rng: np.random.Generator) -> list[str]:
    """The products one photo shows (empty for No Yerb); a flavour may appear more than once."""
    if rng.random() < NO_YERB_SHARE:
        return []
    count = int(rng.choice(len(PRODUCTS_PER_IMAGE), p=PRODUCTS_PER_IMAGE)) + 1
    leaves = [LEAVES[rng.choice(len(LEAVES), p=LEAF_P)]]
    while len(leaves) < count:
        leaves.append(leaves[-1] if rng.random() < SAME_AGAIN else LEAVES[rng.choice(len(LEAVES), p=LEAF_P)])
    return leaves


def scene(rng: np.random.Generator, photos: list[np.ndarray]) -> tuple[Image.Image, list[str]]:
    """One photo and its products: a background, products and 0-4 distractors in random depth order, camera effects."""
    canvas = background(rng, photos)
    leaves = leaves_in_photo(rng)
    objects: list[str | None] = [*leaves, *[None] * int(rng.integers(0, 5))]
    for index in rng.permutation(len(objects)):
        leaf = objects[index]
        if leaf is None:
            height = round(canvas.height * rng.uniform(0.15, 0.45))
            put(canvas, pose(distractor(2 * height, rng), height, rng), rng, cut=rng.random() < 0.3)
            continue
        height = round(canvas.height * rng.uniform(0.15, 0.40))
        cut = rng.random() < CUT_SHARE
        placed = put(canvas, pose(product(leaf, 2 * height, rng), height, rng), rng, cut)
        if not cut and rng.random() < HIDDEN_SHARE:
            hide(canvas, placed, rng)
    pixels = np.asarray(canvas).astype(np.float32) * rng.uniform(0.92, 1.08, 3) * rng.uniform(0.85, 1.12)
    pixels += rng.normal(0.0, rng.uniform(0.0, 4.0), pixels.shape)
    return Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8)), leaves


def build(out: Path, images: int, seed: int) -> Counter[str]:
    """Write the set into ``out`` (replacing a previous one there); return images per leaf label."""
    photos_dir, labels = out / "photos", out / "labels.csv"
    labels.unlink(missing_ok=True)
    shutil.rmtree(photos_dir, ignore_errors=True)
    (photos_dir / SUBFOLDER).mkdir(parents=True)
    photos = photographs()
    counts: Counter[str] = Counter()
    partial = out / "labels.csv.partial"
    with partial.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["Url", "Label"])
        for number in range(1, images + 1):
            rng = np.random.default_rng([seed, number])
            image, leaves = scene(rng, photos)
            name = f"real_{number:05d}.jpg"
            folder = photos_dir / SUBFOLDER if number % SUBFOLDER_EVERY == 0 else photos_dir
            image.save(folder / name, "JPEG", quality=int(rng.integers(72, 96)))
            given = sorted(set(leaves)) or [NO_YERB]
            writer.writerow([URL_PREFIX + name, repr(given)])
            counts.update(given)
    partial.replace(labels)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write photos/ and labels.csv into")
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = build(args.out, args.images, args.seed)
    print(f"{args.images} images in {args.out} in {time.perf_counter() - started:.0f} s; images per label:")
    for label in sorted(counts):
        print(f"  {counts[label]:5d}  {label}")


if __name__ == "__main__":
    main()
