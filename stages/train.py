"""train: data/augmented -> models/model.keras, per-epoch metrics in dvclive/train."""

from pathlib import Path

from yerbnet.errors import reported_as_exit
from yerbnet.params import load_params
from yerbnet.sources.images import PhotoLimits
from yerbnet.train import train

SHARDS = Path("data/augmented")
MODEL = Path("models/model.keras")
LIVE = Path("dvclive/train")
BACKUP = Path("models/.backup")  # not a DVC output: it must survive DVC's cleanup to be resumed

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        limits = PhotoLimits(params.scrape.max_pixels, params.scrape.max_side)  # predict applies them too
        train(params.train, SHARDS, MODEL, LIVE, BACKUP, params.seed, limits)
