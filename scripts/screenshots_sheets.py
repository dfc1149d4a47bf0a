"""Screenshots of the sheet workflow of a meeting, at 1280 and 360 px wide: two editors on
one sheet (who else is here, the level definitions beside the choice) and an entry's
sheets with the evolution of its levels.

    make screenshots        (or .venv/bin/python scripts/screenshots_sheets.py [OUT_DIR])

Serves the Lille demo data from a throwaway database, with two editor accounts, and drives
Debian's Chromium: Anna starts a sheet from La Coroutine's last one, then Anna and Basile
write it together.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from bench.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    make_app,
    migrate,
    serve,
    throwaway_database,
)

PASSWORD = "a password for the screenshots"  # noqa: S105  (a throwaway database)
USERS = {"Anna": "anna@example.org", "Basile": "basile@example.org"}
WIDTHS = {"1280": (1280, 900), "360": (360, 780)}


def _page(browser: Browser, base: str, who: str, width: str) -> Page:
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, locale="fr-FR",
                                  device_scale_factor=1, base_url=base)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", USERS[who])
    page.fill("#password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url("**/editor/")
    return page


def _shot(page: Page, out: Path, name: str) -> None:
    target = out / name
    page.screenshot(path=str(target))
    print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with throwaway_database("shots_sheets") as url:
        app = make_app(url)
        migrate(app, demo=True)
        with app.app_context():
            from app.extensions import db
            from app.services.users import create_user

            for name, email in USERS.items():
                create_user(email, PASSWORD, "editor", name=name)
            db.session.remove()
            db.engine.dispose()
        with serve(app) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            anna = _page(browser, base, "Anna", "1280")
            anna.goto("/entries/la-coroutine/sheets")
            anna.click("#start-from-last")
            anna.fill("#title", "Assemblée des communs de printemps")
            anna.select_option("#governance-level", "4")
            anna.select_option("#financing-level", "3")
            anna.select_option("#legal-level", "1")
            anna.check("#state-published")
            anna.click("#sheet-form button[type=submit]")
            anna.wait_for_selector(".flash")
            sheet_url = anna.url.split("?")[0]
            for width in WIDTHS:
                page = anna if width == "1280" else _page(browser, base, "Anna", width)
                basile = _page(browser, base, "Basile", width)
                for p in (page, basile):
                    p.goto(sheet_url)
                basile.click("#governance-strengths")
                basile.keyboard.press("Control+End")
                basile.keyboard.type(" Une assemblée ouverte chaque mois.")
                expect(page.locator("#governance-strengths")).to_have_value(
                    re.compile("assemblée ouverte"), timeout=5000)
                expect(page.locator(".live-writer")).to_be_visible(timeout=5000)
                # At 360 px the key shows more: its level definitions, who writes where.
                page.locator("#live-status" if width == "1280" else "#key-governance").evaluate(
                    "el => window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 8)")
                page.wait_for_timeout(200)
                _shot(page, out, f"sheet-live-{width}.png")
                page.goto("/entries/la-coroutine/sheets")
                page.locator(".evolution").scroll_into_view_if_needed()
                page.locator("#evaluate-title").evaluate(
                    "el => window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 8)")
                _shot(page, out, f"sheets-evolution-{width}.png")
                basile.context.close()
                page.context.close()
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
