"""A filtered map at 1,000,000 entries as a visitor uses it, against another checkout.

    .venv/bin/python bench/map_filtered.py --compare-with DIR [--entries 1000000] [--rounds 2]

On the kept base of bench/map_scale.py (built there if missing, with its tag on one
entry in ten), each checkout in turn (this one and DIR, e.g. `git worktree add --detach
/tmp/before <commit>`; interleaved, `--rounds` times, so both see the same load) runs
on gunicorn as map_scale.py does; headless Chromium then, for a search that keeps every
entry (`q=banc`) and for the tag: opens France at zoom 6 just after a change (nothing
kept fits: the first visitor), zooms into Lille at zoom 12, then pans to Nantes at zoom
9 (same data state). For each: drawn (map.js's mark), the page, the slowest answer, and
the entries shown, which must be the same for both checkouts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.harness import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from bench.map_scale import ensure_database, gunicorn, move_one, visit  # noqa: E402

STORY = [("France, zoom 6, after a change", "?{q}#map=6/46.8/2.5", True),
         ("zoomed in: Lille, zoom 12", "?{q}#map=12/50.63/3.06", False),
         ("panned: Nantes, zoom 9", "?{q}#map=9/47.2/-1.55", False)]
FILTERS = ("q=banc", "tag=jardin-banc")


def run(label: str, cwd: Path, url: str) -> dict[tuple[str, str], int]:
    shown = {}
    env = {"DATABASE_URL": url, "ATLAS_SECRET_KEY": "bench"}
    with gunicorn(env, cwd=cwd) as (base, _master), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        visit(browser, base, "#map=6/46.8/2.5")  # the worker's imports, not measured
        for q in FILTERS:
            for name, view, change in STORY:
                if change:
                    move_one(url)
                r = visit(browser, base, view.format(q=q))
                slowest = max(r["requests"], key=lambda x: x[1])
                shown[q, name] = r["shown"]
                print(f"{label} (load {os.getloadavg()[0]:.1f}) {q}, {name}: drawn "
                      f"{r['drawn']:,.0f} ms (page {r['html']:,.0f} ms); slowest answer "
                      f"{slowest[1]:,.0f} ms ({slowest[0]}); {r['shown']:,} shown", flush=True)
        browser.close()
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-with", required=True, help="another checkout's folder")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url = ensure_database(args.entries, drop=False)
    other = Path(args.compare_with).resolve()
    for _ in range(args.rounds):
        theirs = run(f"{other.name}", other, url)
        ours = run("this checkout", ROOT, url)
        assert theirs == ours, f"different entries shown: {theirs} != {ours}"


if __name__ == "__main__":
    main()
