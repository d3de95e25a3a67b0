"""Which scraped image an export row names.

Azure ML Data Labeling names a photo by the path it was uploaded under, behind a
datastore prefix of any depth (``AmlDatastore://workspaceblobstore/UI/<date>/Summer
trip/IMG 0002.jpeg``), while scrape stores it under a tidied name (``Summer_trip__IMG_0002.jpg``).
``posts.csv`` keeps each photo's original relative path, so a row matches, in this order:

1. the longest tail of its URL path that is an original relative path;
2. its file name, when exactly one photo was uploaded under that file name;
3. its file name as scrape stored it (an export of ``data/raw/images`` itself).

Names are compared in Unicode NFC: macOS writes ``ü`` decomposed, Azure and Windows do not.
A file name shared by several photos in different folders is ambiguous unless the URL
carries the folder; such rows are reported with their candidates, never guessed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from yerbnet.errors import UserError


@dataclass(frozen=True)
class Match:
    """The stored file a row names, or None with the stored files it could have meant."""

    file: str | None
    candidates: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.file is None and len(self.candidates) > 1


def url_parts(url: str) -> list[str]:
    """The (percent-decoded, NFC) path segments of an image URL, without query or scheme noise.

    A URL with a ``..`` segment is refused: it can only come from a broken or hostile export,
    and whatever it names must never be mistaken for a file in the image folder.
    """
    path = unquote(url.split("?", 1)[0]).replace("\\", "/")
    parts = [unicodedata.normalize("NFC", part) for part in path.split("/")]
    if ".." in parts:
        raise UserError(f"image URL {url!r} climbs out of its folder ('..'); refused")
    return [part for part in parts if part]


class Matcher:
    """Looks export rows up among the scraped images (``stored file -> original relative path``)."""

    def __init__(self, originals: Mapping[str, str] | Iterable[str]) -> None:
        if not isinstance(originals, Mapping):  # plain names: uploaded as stored
            originals = {name: name for name in originals}
        self.by_path: dict[str, str] = {}
        self.by_name: dict[str, str] = {}  # file name -> the one photo uploaded under it
        self.shared_names: dict[str, list[str]] = {}  # file name -> the photos (in several folders) that share it
        for stored, original in sorted(originals.items()):
            key = unicodedata.normalize("NFC", original.replace("\\", "/")).strip("/")
            self.by_path[key] = stored
            name = key.rsplit("/", 1)[-1]
            if name in self.shared_names:
                self.shared_names[name].append(stored)
            elif name in self.by_name:
                self.shared_names[name] = [self.by_name.pop(name), stored]
            else:
                self.by_name[name] = stored
        self.stored = {unicodedata.normalize("NFC", name): name for name in originals}

    def match(self, url: str) -> Match:
        parts = url_parts(url)
        for start in range(len(parts)):
            stored = self.by_path.get("/".join(parts[start:]))
            if stored is not None:
                return Match(stored)
        name = parts[-1] if parts else ""
        if name in self.by_name:
            return Match(self.by_name[name])
        if name in self.shared_names:
            return Match(None, tuple(self.shared_names[name]))
        return Match(self.stored.get(name))
