"""Reading a config file: TOML in, a validated model out, or a ConfigError
whose every line names the file, the key and what was expected.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kiosk.config.errors import ConfigError
from kiosk.config.site import SiteConfig

M = TypeVar("M", bound=BaseModel)


# Sections are strict (kiosk/config/section.py): a value of the wrong TOML
# type is refused, not converted, and named in TOML's words, because the
# person reading the message wrote TOML, not Python.
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string in quotes",
    "list_type": "an array [...]",
    "model_type": "a table",
    "dict_type": "a table",
}


# Keys an older release knew, and where they are now: a config written then
# gets the new place, not "unknown key".
MOVED = {"web.alert_wait_min": "[targets] wait_min"}


def toml_value(value: Any) -> str:
    """A parsed TOML value as the person wrote it, with its kind."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the float {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"the {type(value).__name__} {value}"   # TOML dates and times


def _quote_hint(kind: str, given: Any) -> str:
    # The likeliest cause of a string where a number or a boolean belongs.
    if isinstance(given, str) and kind in ("int_type", "float_type", "bool_type"):
        return " (numbers and true/false are written without quotes)"
    return ""


def describe_error(err: dict[str, Any]) -> str:
    loc = ""
    for part in err["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += ("." if loc else "") + str(part)
    kind = err["type"]
    if kind == "extra_forbidden" and loc in MOVED:
        return f"{loc}: moved to {MOVED[loc]} (see docs/config.md)"
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (not valid in this section; see docs/config.md)"
    if kind == "missing":
        return f"{loc}: required key is missing"
    given = err.get("input")
    if kind in _EXPECTED:
        return f"{loc}: expected {_EXPECTED[kind]}, got {toml_value(given)}{_quote_hint(kind, given)}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        return f"{loc}: " + msg.replace("Input should be", "expected", 1) + f", got {toml_value(given)}"
    shown = "" if isinstance(given, (dict, list)) or given is None else f", got {given!r}"
    return f"{loc}: {msg}{shown}" if loc else f"{msg}"


def parse(data: dict[str, Any], source: str = "<config>", model: type[M] = SiteConfig) -> M:
    """Validate ``data`` as ``model`` (the site config unless told otherwise)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        lines = [describe_error(err) for err in e.errors()]
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(lines)) from None


def load(path: str | Path, model: type[M] = SiteConfig, what: str = "site config") -> M:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the {what}: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return parse(data, str(p), model)


def documented_keys(model: type[BaseModel] = SiteConfig, prefix: str = "") -> list[str]:
    """Every dotted key the config accepts; tests compare it with docs/config.md."""
    keys: list[str] = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        sub = _submodel(info.annotation)
        if sub is not None:
            keys.extend(documented_keys(sub, dotted + "."))
    return keys


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _submodel(arg)
        if found is not None:
            return found
    return None

