"""Where photos come from: the synthetic renderer, a local folder, or Instagram (see :mod:`yerbnet.scrape`)."""
