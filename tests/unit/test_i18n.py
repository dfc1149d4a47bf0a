"""Every interface string is in the French catalog, and the built catalogs are current."""


from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from app.config import PROJECT_ROOT

ROOT = PROJECT_ROOT
TRANSLATIONS = ROOT / "translations"


def extracted(tmp_path) -> set:
    """The msgids in the sources now (the same command as `make catalogs-update`)."""
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "_lp:1c,2",
        "--ignore-dirs=.* var node_modules", "-o", str(pot), str(ROOT)])
    with pot.open("rb") as handle:
        return {(m.context, m.id if isinstance(m.id, str) else m.id[0])
                for m in read_po(handle) if m.id}


def catalog(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def test_every_interface_string_has_a_french_translation(tmp_path):
    wanted = extracted(tmp_path)
    assert len(wanted) > 50
    french = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m
              for m in catalog("fr") if m.id}
    missing = sorted(str(key) for key in wanted - french.keys())
    assert not missing, f"run `make catalogs-update` and translate: {missing}"
    untranslated = sorted(str(k) for k in wanted
                          if not all(french[k].string if isinstance(french[k].string, tuple)
                                     else [french[k].string]) or french[k].fuzzy)
    assert not untranslated, f"translate in translations/fr: {untranslated}"


def test_placeholders_survive_translation():
    for message in catalog("fr"):
        if not message.id or not message.python_format:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        names = {n for i in ids for n in _names(i)}
        for string in strings:
            assert _names(string) <= names, (message.id, string)


def _names(text: str) -> set[str]:
    import re

    return set(re.findall(r"%\((\w+)\)s", text))


def test_built_catalogs_are_current():
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, (
            f"{mo} is missing or older than its .po: run `make install`")
