"""docs/display.md stays true: every display/announcer key and entry point is in it."""
import ast
import re
from pathlib import Path

from kiosk.config import AnnouncerSection, DisplaySection

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "display.md").read_text()


def test_every_display_and_announcer_key_is_documented():
    for section, model in (("display", DisplaySection), ("announcer", AnnouncerSection)):
        for key in model.model_fields:
            assert f"`{section}.{key}`" in DOC, f"{section}.{key} is missing from docs/display.md"
    documented = set(re.findall(r"`((?:display|announcer)\.[a-z_]+)`", DOC))
    known = {f"display.{k}" for k in DisplaySection.model_fields} | \
            {f"announcer.{k}" for k in AnnouncerSection.model_fields}
    assert {d for d in documented if d.split(".")[1] not in ("app", "speaker", "voice", "screenshots")} <= known


def _main_params(module: str) -> list[str]:
    # Read the source, not the module: importing display.app would import
    # Kivy into the test process and change its logging for other tests.
    tree = ast.parse((ROOT / "display" / f"{module}.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    return [a.arg for a in fn.args.args + fn.args.kwonlyargs]


def test_documented_entry_points_match_their_signatures():
    for module in ("app", "speaker", "voice"):
        name = f"display.{module}.main"
        line = next(l for l in DOC.splitlines() if name + "(" in l)
        params = _main_params(module)
        assert params
        for param in params:
            assert param in line, f"{name}: parameter {param} not documented"
