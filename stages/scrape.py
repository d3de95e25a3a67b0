"""scrape: fill data/raw/ (images/, posts.csv, and labels.csv for the synthetic source)."""

from pathlib import Path

from yerbnet.errors import reported_as_exit
from yerbnet.params import load_params
from yerbnet.scrape import scrape

RAW = Path("data/raw")

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        stored = scrape(params.scrape, seed=params.seed, raw_dir=RAW)
        print(f"scrape: {stored} images from source '{params.scrape.source}' in {RAW}")
