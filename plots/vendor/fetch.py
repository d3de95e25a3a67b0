"""Fetch Vega, Vega-Lite and Vega-Embed from the npm registry and build plots/offline.html.

`dvc plots show` and `dvc plots diff` write their page wherever `-o` says, so a
`<script src>` relative to the repository breaks for any other output folder. The
three browser bundles are therefore inlined into the HTML template that
`.dvc/config` names (`plots.html_template`); DVC reads that file's text as is.

Usage (from the repository root; needs npm, reaches only the npm registry):
    python plots/vendor/fetch.py            # fetch, verify against SHA256SUMS, write offline.html
    python plots/vendor/fetch.py --check    # same, but fail if offline.html would change
    python plots/vendor/fetch.py --update-sums   # after changing a pinned version below
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent
TEMPLATE = VENDOR.parent / "offline.html"
PAGE = VENDOR / "page.html"
SUMS = VENDOR / "SHA256SUMS"
MARKER = "<!-- VENDORED_SCRIPTS -->"

# Same major versions as the CDN URLs in dvc_render/vega.py (vega@5, vega-lite@5,
# vega-embed@6); the newest release of each major, so DVC's templates behave as online.
# Order matters: vega-lite and vega-embed need the globals the earlier ones define.
PACKAGES: list[tuple[str, str, str]] = [
    ("vega", "5.33.1", "build/vega.min.js"),
    ("vega-lite", "5.23.0", "build/vega-lite.min.js"),
    ("vega-embed", "6.29.0", "build/vega-embed.min.js"),
]

# Text that must not occur in an inlined bundle: the first three would end or
# re-parse the <script> element; the rest are placeholders DVC substitutes in the
# template text (dvc_render/html.py, plain str.replace), which would corrupt the JS.
FORBIDDEN = ["</script", "<script", "<!--", "{plot_divs}", "{scripts}", "{refresh_tag}"]


def read_sums() -> dict[str, str]:
    """Return {"vega@5.33.1/build/vega.min.js": sha256} from SHA256SUMS."""
    sums: dict[str, str] = {}
    if SUMS.exists():
        for line in SUMS.read_text(encoding="utf8").splitlines():
            if line.strip():
                digest, name = line.split(maxsplit=1)
                sums[name.strip()] = digest
    return sums


def key(name: str, version: str, path: str) -> str:
    return f"{name}@{version}/{path}"


def fetch(workdir: Path) -> dict[str, bytes]:
    """Download the pinned tarballs with `npm pack` (which checks the registry's integrity hash)."""
    specs = [f"{name}@{version}" for name, version, _ in PACKAGES]
    result = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(workdir), *specs],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    packed = {f"{d['name']}@{d['version']}": workdir / d["filename"] for d in json.loads(result.stdout)}
    bundles: dict[str, bytes] = {}
    for name, version, path in PACKAGES:
        with tarfile.open(packed[f"{name}@{version}"]) as tar:
            bundles[key(name, version, path)] = tar.extractfile(f"package/{path}").read()  # type: ignore[union-attr]
            licence = next((m for m in tar.getnames() if m.lower() == "package/license"), None)
            if licence is not None:
                (VENDOR / f"LICENSE.{name}").write_bytes(tar.extractfile(licence).read())  # type: ignore[union-attr]
        if not (VENDOR / f"LICENSE.{name}").exists():
            sys.exit(f"{name}@{version} ships no LICENSE and plots/vendor/LICENSE.{name} is missing")
    return bundles


def build(bundles: dict[str, bytes]) -> str:
    """Return the template text: page.html with each bundle inlined in its own <script>."""
    blocks = []
    for name, version, path in PACKAGES:
        k = key(name, version, path)
        text = bundles[k].decode("utf8")
        for bad in FORBIDDEN:
            if bad in text:
                sys.exit(f"{k} contains {bad!r}: it cannot be inlined safely")
        digest = hashlib.sha256(bundles[k]).hexdigest()
        blocks.append(
            f"<!-- {k} sha256:{digest} (BSD-3-Clause, plots/vendor/LICENSE.{name}) -->\n"
            f"    <script>{text}</script>"
        )
    page = PAGE.read_text(encoding="utf8")
    if page.count(MARKER) != 1:
        sys.exit(f"{PAGE} must contain {MARKER} exactly once")
    return page.replace(MARKER, "\n    ".join(blocks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if plots/offline.html is not what the fetch builds")
    parser.add_argument("--update-sums", action="store_true", help="rewrite SHA256SUMS from what was fetched")
    args = parser.parse_args()
    if shutil.which("npm") is None:
        sys.exit("npm not found: install Node.js/npm (it is used only to download from the npm registry)")

    with tempfile.TemporaryDirectory() as tmp:
        bundles = fetch(Path(tmp))
    actual = {k: hashlib.sha256(v).hexdigest() for k, v in bundles.items()}
    if args.update_sums:
        SUMS.write_text("".join(f"{d}  {k}\n" for k, d in actual.items()), encoding="utf8")
    expected = read_sums()
    if expected != actual:
        sys.exit(f"checksums differ from {SUMS}:\n expected {expected}\n fetched  {actual}")

    html = build(bundles)
    if args.check:
        if not TEMPLATE.exists() or TEMPLATE.read_text(encoding="utf8") != html:
            sys.exit(f"{TEMPLATE} differs from a fresh build: run python plots/vendor/fetch.py")
        print(f"{TEMPLATE} matches the pinned npm releases")
        return 0
    TEMPLATE.write_text(html, encoding="utf8")
    print(f"wrote {TEMPLATE} ({len(html) // 1024} KiB) from " + ", ".join(f"{n}@{v}" for n, v, _ in PACKAGES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
