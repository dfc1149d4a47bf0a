"""Screenshots of the map, the directory, an entry's page and the legal notice at 1280
and 360 px wide.

    make screenshots        (or .venv/bin/python scripts/screenshots.py [OUT_DIR])

Serves the Lille demo data from a throwaway database and drives Debian's Chromium.
No tile server is reachable from the build machine, so requests leaving it are
refused and the map shows its plain background: what a user sees when tiles fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    make_app,
    migrate,
    serve,
    throwaway_database,
)

PAGES = {
    "map": "/#map=13/50.6330/3.0700",
    "directory": "/entries",
    "entry": "/entries/la-coroutine",
    "legal": "/legal",
}
WIDTHS = {"1280": (1280, 800), "360": (360, 780)}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with throwaway_database("shots") as url:
        app = make_app(url)
        migrate(app, demo=True)
        with serve(app) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for width, (w, h) in WIDTHS.items():
                context = browser.new_context(viewport={"width": w, "height": h},
                                              locale="fr-FR", device_scale_factor=1)
                page = context.new_page()
                for name, path in PAGES.items():
                    page.goto(base + path)
                    if name == "map":
                        page.wait_for_selector("#map[data-drawn]")
                    page.wait_for_timeout(300)
                    target = out / f"{name}-{width}.png"
                    page.screenshot(path=str(target))
                    print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
                    if name == "entry" and width == "1280":
                        # The evaluation sheet: its hexagon chart and the table beside it.
                        target = out / "entry-sheet-1280.png"
                        page.locator(".sheet-chart").screenshot(path=str(target))
                        print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
                context.close()
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
