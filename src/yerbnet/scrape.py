"""The scrape stage: fill ``data/raw`` from the configured source (see :mod:`yerbnet.sources.manifest`)."""

from __future__ import annotations

from pathlib import Path

from yerbnet.params import ScrapeParams
from yerbnet.sources.directory import scrape_directory
from yerbnet.sources.instagram import scrape_instagram
from yerbnet.sources.synthetic import scrape_synthetic


def scrape(cfg: ScrapeParams, seed: int, raw_dir: Path) -> int:
    """Fill ``raw_dir`` from the configured source; return the number of images stored."""
    if cfg.source == "synthetic":
        return scrape_synthetic(raw_dir, images=cfg.synthetic.images, seed=seed)
    if cfg.source == "directory":
        return scrape_directory(cfg, raw_dir)
    return scrape_instagram(cfg, raw_dir)
