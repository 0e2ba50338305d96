"""Make the README's pictures: a screenshot of the HTML report of a run and of the 3D view of an
electrode structure, in headless Chromium, as palette PNGs under 300 kB.

    python docs/pictures.py --run runs/quickstart --structure runs/dem/artifacts/3/structure.npz \
        [--timeseries .../timeseries.parquet] [--out docs]

Prints one line: the two files and their sizes.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

from PIL import Image

from batman_opt.report.browser import HeadlessChromium
from batman_opt.report.cards import RunData
from batman_opt.report.electrode_view import read_time_series, write_view
from batman_opt.report.html import build_cards, render_html
from batman_opt.store import RunStore
from sims.structure import ElectrodeStructure

MAX_BYTES = 300_000


def small_png(png: bytes, path: Path, width: int) -> int:
    """Save a screenshot scaled to `width` px with an adaptive palette; returns the file size."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    for colours in (128, 64, 32):
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size < MAX_BYTES:
            break
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run directory to report")
    parser.add_argument("--structure", type=Path, required=True, help="electrode structure .npz")
    parser.add_argument("--timeseries", type=Path, help="its time series Parquet (optional)")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, HeadlessChromium(1300, 1500) as browser:
        data = RunData.of(RunStore(args.run))
        report = Path(tmp) / "report.html"
        report.write_text(render_html(data, build_cards(data)))
        page = browser.open(report.as_uri(), settle_s=2.0)
        series = read_time_series(args.timeseries) if args.timeseries else None
        view = write_view(
            Path(tmp) / "view.html",
            ElectrodeStructure.load(args.structure),
            title=args.structure.name,
            series=series,
        )
        with HeadlessChromium(1400, 900) as wide:
            shown = wide.open(view.as_uri(), settle_s=3.0)
    errors = page.errors + shown.errors
    if errors:
        raise SystemExit(f"the pages logged errors: {errors}")
    sizes = {
        name: small_png(png, args.out / name, width)
        for name, png, width in (
            ("report.png", page.screenshot_png, 900),
            ("electrode_view.png", shown.screenshot_png, 1000),
        )
    }
    print(", ".join(f"{args.out / n}: {s / 1e3:.0f} kB" for n, s in sizes.items()))


if __name__ == "__main__":
    main()
