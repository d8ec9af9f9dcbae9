"""The admin pages' config work in the web process: the site config the
pages edit, the page's edits merged into the whole config, and the config
model's errors put where the page can show them (next to their input).

The web never writes the site file: it validates here with the same model
(``kiosk.config``) so a mistake shows at once, then asks the core
(``config_apply``), which checks again, refuses what would strand people,
writes the file and publishes ``config/site``.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import ValidationError

from kiosk.config import SiteConfig, config_hash  # noqa: F401  (web.bus and the tests use it from here)
from kiosk.config.loading import describe_error

# What the admin pages may change; anything else in the whole config is
# taken as the core has it (docs/admin.md).  site.id and site.timezone are
# not live (restart_needed), so the page does not offer them.
EDITABLE = {
    "site": ("commune", "centre", "province"),
    "hours": None,
    "fields": None,
    "counters": None,
    "priority": ("interleave", "classes"),
    "rating": ("window_s", "levels"),
    "display": ("notice", "public_board", "wait_target_min"),
}
# The sections a consumer takes from config/site (THE CONTRACT); the web
# keeps its own mqtt, store, printer, bridge, uplink and web.host/port.
LIVE = ("site", "hours", "fields", "counters", "priority", "rating", "display", "announcer", "web")
LOCAL_WEB = ("host", "port")


def as_json(config: SiteConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def merge(current: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """The whole config: ``current`` with the page's ``edits`` laid over it.

    A list section (hours, fields, counters) is replaced whole; a table takes
    only the keys the page edits, so keys the page does not show (rating's
    clock tolerance, the display's font) keep their values.
    """
    out = copy.deepcopy(current)
    for section, value in edits.items():
        keys = EDITABLE.get(section, ())
        if keys is None:
            if not isinstance(value, list):
                raise ValueError(f"{section} must be a list")
            out[section] = value
        elif keys:
            if not isinstance(value, dict):
                raise ValueError(f"{section} must be a table")
            table = dict(out.get(section) or {})
            for k in keys:
                if k in value:
                    table[k] = value[k]
            out[section] = table
        else:
            raise ValueError(f"the admin pages do not change {section!r}")
    return out


def adopt(local: SiteConfig, published: dict[str, Any]) -> SiteConfig:
    """The web's config after a config/site message: the live sections from
    the core, its own local ones kept.  Raises ValueError (one line) when
    the message must be refused."""
    mine = as_json(local)
    theirs_site = published.get("site") or {}
    for key in ("id", "timezone"):
        if theirs_site.get(key) != mine["site"][key]:
            raise ValueError(f"config/site has site.{key} {theirs_site.get(key)!r}, "
                             f"this console runs {mine['site'][key]!r}; restart it with the new file")
    merged = dict(mine)
    for section in LIVE:
        if section in published:
            merged[section] = published[section]
    merged["web"] = {**(published.get("web") or mine["web"]),
                     **{k: mine["web"][k] for k in LOCAL_WEB}}
    try:
        return SiteConfig.model_validate(merged)
    except ValidationError as e:
        raise ValueError("; ".join(describe_error(err) for err in e.errors()[:3])) from None


# ---- errors next to their inputs

def _loc(parts: tuple) -> str:
    loc = ""
    for part in parts:
        loc += f"[{part}]" if isinstance(part, int) else ("." if loc else "") + str(part)
    return loc


def validate(data: dict[str, Any]) -> list[dict[str, str]]:
    """The config model's errors on ``data``: ``[{"loc", "message", "text"}]``,
    ``message`` as ``describe_error`` writes it (what the core would say)
    and ``text`` what the page shows.  Empty when the config is valid."""
    try:
        SiteConfig.model_validate(data)
    except ValidationError as e:
        out = []
        for err in e.errors():
            loc = _loc(err["loc"])
            line = describe_error(err)
            message = line.removeprefix(f"{loc}: ") if loc else line
            out.extend(placed(loc, message, data, err.get("type", "")))
        return out
    return []


def placed(loc: str, message: str, data: dict[str, Any], kind: str = "") -> list[dict[str, str]]:
    """One error at the input it is about, in Vietnamese where the message is
    the project's own.  The cross-section checks (``SiteConfig._cross_refs``)
    raise without a location; their message names it, so it is found here."""
    m = re.fullmatch(r"([\w.]+): (\w+) (.+) is used twice", message)
    if m and not loc:
        section, key, value = m.groups()
        return _twice(section, key, value, data, message)
    m = re.fullmatch(r"(counters\[\d+\]\.fields): (.*)", message)
    if m and not loc:
        loc, rest = m.groups()
        message = rest
    m = re.fullmatch(r"fields: no counter serves field '(.+)'", message)
    if m and not loc:
        code = m.group(1)
        i = next((i for i, f in enumerate(data.get("fields") or []) if f.get("code") == code), 0)
        name = (data["fields"][i].get("name_vi") if data.get("fields") else None) or code
        return [{"loc": f"fields[{i}]", "message": message,
                 "text": f"Chưa có quầy nào phục vụ lĩnh vực «{name}»: chọn nó ở trang Quầy"}]
    return [{"loc": loc, "message": message, "text": in_vietnamese(message, kind, loc)}]


_VI_KEY = {"prefix": "Tiền tố", "code": "Mã", "number": "Số quầy"}


def _twice(section: str, key: str, value: str, data: dict[str, Any],
           message: str) -> list[dict[str, str]]:
    """Every entry after the first that repeats ``value``: that is the one just typed."""
    parts = section.split(".")
    rows: Any = data
    for p in parts:
        rows = (rows or {}).get(p) if isinstance(rows, dict) else None
    shown = value.strip("'")
    what = _VI_KEY.get(key, key)
    text = f"{what} «{shown}» đã dùng ở mục khác; mỗi mục một {what.lower()} riêng"
    out, seen = [], False
    for i, row in enumerate(rows or []):
        if isinstance(row, dict) and str(row.get(key)) == shown:
            if seen:
                out.append({"loc": f"{section}[{i}].{key}", "message": message, "text": text})
            seen = True
    return out or [{"loc": section, "message": message, "text": text}]


# The project's own messages (kiosk/config), in the page's language.
_OWN = [
    (r"close (\S+) must be after open (\S+)", "Giờ đóng {0} phải sau giờ mở {1}"),
    (r"unknown field '(.+?)'.*", "Không có lĩnh vực «{0}»"),
    (r"a field is listed twice", "Một lĩnh vực được chọn hai lần"),
    (r"at least one rating level must have satisfied = true",
     "Phải có ít nhất một mức được tính là hài lòng"),
    (r"at least one rating level must have satisfied = false",
     "Phải có ít nhất một mức không được tính là hài lòng"),
    (r"required key is missing", "Chưa điền"),
    (r"unknown key .*", "Khoá không hợp lệ ở mục này"),
]
# pydantic's own messages, with a Vietnamese lead (the original follows it).
_PYDANTIC = {
    "string_pattern_mismatch": "Sai dạng",
    "string_too_short": "Chưa điền",
    "string_too_long": "Quá dài",
    "greater_than": "Giá trị quá nhỏ",
    "greater_than_equal": "Giá trị quá nhỏ",
    "less_than": "Giá trị quá lớn",
    "less_than_equal": "Giá trị quá lớn",
    "too_short": "Cần ít nhất một mục",
    "too_long": "Quá nhiều mục",
    "int_type": "Phải là số nguyên",
    "float_type": "Phải là một số",
    "literal_error": "Giá trị không có trong danh sách",
}


# What a pattern asks for, by the key it checks.
_SHAPE = {"prefix": "Một chữ cái in hoa, từ A đến Z",
          "code": "Chữ thường không dấu, số và dấu gạch ngang, ví dụ ho-tich",
          "open": "Giờ dạng HH:MM, ví dụ 07:30", "close": "Giờ dạng HH:MM, ví dụ 17:00"}


def in_vietnamese(message: str, kind: str = "", loc: str = "") -> str:
    # The file's hint about quotes means nothing in a form.
    message = message.replace(" (numbers and true/false are written without quotes)", "")
    for pattern, vi in _OWN:
        m = re.fullmatch(pattern, message)
        if m:
            return vi.format(*m.groups())
    key = loc.rsplit(".", 1)[-1]
    if kind == "string_pattern_mismatch" and key in _SHAPE:
        return f"{_SHAPE[key]} ({message})"
    lead = _PYDANTIC.get(kind)
    return f"{lead}: {message}" if lead else message
