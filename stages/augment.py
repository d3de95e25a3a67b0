"""augment: data/encoded -> data/augmented/ TFRecord shards (train with seeded copies) and index.json."""

from pathlib import Path

from yerbnet.augment import augment_dataset
from yerbnet.encode import read_encoded
from yerbnet.errors import reported_as_exit
from yerbnet.params import load_params
from yerbnet.sources.manifest import IMAGES_DIR

IMAGES = Path("data/raw") / IMAGES_DIR
ENCODED = Path("data/encoded")
OUT = Path("data/augmented")

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        index = augment_dataset(read_encoded(ENCODED), IMAGES, OUT, params.augment, params.image_size, params.seed)
        print("augment: records per split " + ", ".join(f"{s} {v['records']}" for s, v in index["splits"].items()))
