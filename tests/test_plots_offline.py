"""`dvc plots show` / `dvc plots diff` pages draw every chart with no network (issue 15).

DVC's default page loads Vega from a CDN, so offline every chart is blank. `.dvc/config`
points `plots.html_template` at plots/offline.html, which inlines pinned copies of Vega,
Vega-Lite and Vega-Embed. These tests render real DVC output in headless Chromium with
DNS and proxy blocked and count the charts that drew.

Set PLOTS_SCREENSHOT=/some/file.png to also save a screenshot of the `dvc plots show` page.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "plots" / "offline.html"
SUMS = ROOT / "plots" / "vendor" / "SHA256SUMS"
CLASS_CSV = "reports/class_distribution.csv"
# Name resolution fails and any proxied request goes to a closed port: nothing reaches a network.
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]


def chromium() -> str:
    """Path of a Chromium; skips when there is none, except in CI (CI=true), where it fails."""
    found = os.environ.get("CHROMIUM") or next(
        (p for p in map(shutil.which, ["chromium", "chromium-browser", "google-chrome"]) if p), None
    )
    if found is None and os.environ.get("CI") != "true":
        pytest.skip("Chromium is not installed (apt-get install chromium); CI fails here instead")
    assert found is not None, "Chromium is not installed (apt-get install chromium): the offline plots check needs it"
    return found


def browse(page: Path, profile: Path, *extra: str) -> str:
    """Open `page` in headless Chromium without network; return stdout (the DOM with --dump-dom)."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            *OFFLINE,
            "--virtual-time-budget=5000",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dvc(repo: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def scratch_repo(dest: Path, paths: list[str]) -> Path:
    """A git + DVC repository holding copies of `paths` and the project's .dvc/config, committed."""
    (dest / ".dvc").mkdir(parents=True)
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    for rel in paths:
        source = ROOT / rel
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest / rel)
        else:
            shutil.copy(source, dest / rel)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "plots")
    return dest


def test_template_inlines_the_pinned_bundles() -> None:
    """The committed template holds exactly the checksummed npm bundles and no CDN script."""
    from dvc.config import Config

    configured = Config(dvc_dir=str(ROOT / ".dvc"), validate=False).load_one("repo")["plots"]["html_template"]
    assert (ROOT / ".dvc" / configured).resolve() == TEMPLATE  # DVC resolves it against .dvc/
    html = TEMPLATE.read_text(encoding="utf8")
    assert "{plot_divs}" in html and "{scripts}" not in html  # {scripts} would bring DVC's CDN tags back
    inlined = [hashlib.sha256(s.encode("utf8")).hexdigest() for s in re.findall(r"<script>(.*?)</script>", html, re.S)]
    expected = [line.split()[0] for line in SUMS.read_text(encoding="utf8").splitlines() if line.strip()]
    assert inlined == expected  # vega, vega-lite, vega-embed, in load order
    assert not re.search(r"<script[^>]*\ssrc=", html)


def test_plots_show_draws_every_chart_offline(tmp_path: Path) -> None:
    """Every Vega chart of `dvc plots show` draws (a canvas or svg of class "marks") with no network."""
    repo = scratch_repo(tmp_path / "repo", ["dvc.yaml", "params.yaml", "plots", "dvclive", "reports"])
    out = tmp_path / "elsewhere" / "plots"  # not dvc_plots/: the page must not depend on where it is written
    dvc(repo, "plots", "show", "-o", str(out))
    page = out / "index.html"
    html = page.read_text(encoding="utf8")
    assert not re.search(r"<script[^>]*\ssrc=", html), "the page loads a script from elsewhere"
    charts = html.count("vegaEmbed('#")
    assert charts > 0
    dom = browse(page, tmp_path / "profile", "--dump-dom")
    drawn = len(re.findall(r'<(?:canvas|svg)[^>]*class="marks"', dom))
    assert drawn == charts, f"{drawn} of {charts} charts drew"
    if screenshot := os.environ.get("PLOTS_SCREENSHOT"):
        browse(page, tmp_path / "profile", "--window-size=1400,3000", f"--screenshot={Path(screenshot).resolve()}")


def test_class_distribution_diff_shows_revisions_side_by_side(tmp_path: Path) -> None:
    """Across three revisions each bar shows its own revision's count, none stacked on another's."""
    repo = scratch_repo(tmp_path / "repo", ["dvc.yaml", "params.yaml", "plots", CLASS_CSV])
    csv = repo / CLASS_CSV
    rows = csv.read_text(encoding="utf8").splitlines()
    target = next(i for i, row in enumerate(rows) if row.startswith("No Yerb,train,"))
    first = int(rows[target].rsplit(",", 1)[1])
    counts = {"HEAD~2": first, "HEAD~1": first + 7, "HEAD": 3}
    for count in (counts["HEAD~1"], counts["HEAD"]):
        rows[target] = f"No Yerb,train,{count}"
        csv.write_text("\n".join(rows) + "\n", encoding="utf8")
        git(repo, "commit", "-qam", f"No Yerb train {count}")
    page = tmp_path / "diff" / "index.html"
    dvc(repo, "plots", "diff", *counts, "--targets", CLASS_CSV, "-o", str(page.parent))
    dom = browse(page, tmp_path / "profile", "--dump-dom")
    # The template renders as SVG, where each bar is a <path aria-label="images: 80; class: ...; rev: ..." d="M...">.
    bars = re.findall(
        r'<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="bar" d="M([\d.]+),', dom
    )
    assert len(bars) == 3 * (len(rows) - 1), f"{len(bars)} bars drew"
    labels = [dict(part.split(": ", 1) for part in label.split("; ")) for label, _ in bars]
    no_yerb = {d["rev"]: int(d["images"]) for d in labels if d["class"] == "No Yerb" and d["split"] == "train"}
    assert no_yerb == counts
    assert {x for _, x in bars} == {"0"}, "bars of different revisions are stacked"
