"""What the citizen reads: every text a kiosk screen shows, built from the site
config, the core's summary or ticket, and the language.

Pure (no Kivy, no clock): each function returns a screen's properties by name
and the root sets them, so the wording can be tested without a window.  The
words themselves live in i18n.py; this module picks and fills them.  The admin
pad labels its own keys (admin.py): a citizen never reads them.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from kiosk import config as site_config
from kiosk import waitwords
from kiosk.ui import flow, i18n
from kiosk.ui.i18n import t

# The core's refusal code -> the words for the closed screen and for a grey tile.
CLOSED_REASONS = {"closed": "closed_hours", "quota": "closed_quota", "day_closed": "closed_day",
                  "field_closed": "closed_field"}
TILE_STATES = {"closed": "tile_closed", "quota": "tile_quota", "day_closed": "tile_day_closed",
               "field_closed": "tile_field_closed"}


def _name(thing: Any, lang: str) -> str:
    """A field's or priority class's name from the config, in the language shown."""
    return thing.name_vi if lang == "vi" else thing.name_en


def header(cfg: site_config.SiteConfig, lang: str) -> dict[str, Any]:
    return {"commune": cfg.site.commune, "centre": cfg.site.centre, "lang_label": t("lang_other", lang),
            "listen_label": t("listen", lang)}


def clock(cfg: site_config.SiteConfig, wall: float, lang: str) -> dict[str, Any]:
    """The header's clock and date at ``wall`` (epoch seconds), in the site's time zone."""
    local = cfg.local_time(wall)
    return {"clock": local.strftime("%H:%M"), "date": i18n.date_text(local.date(), lang)}


def screens(cfg: site_config.SiteConfig, lang: str, priority: str | None,
            outcome: flow.Outcome | None) -> dict[str, dict[str, Any]]:
    """The citizen's screens' properties, by screen name.

    ``priority`` is the class chosen on the priority screen (None: none);
    ``outcome`` is the last reply shown, whose ticket the result screens show.
    """
    ticket = outcome.ticket if outcome else {}
    number = str(ticket.get("label") or "")
    if priority:
        home_title = t("priority_banner", lang, name=_name(cfg.priority_class(priority), lang))
    else:
        home_title = t("home_title", lang)
    reason = outcome.reason if outcome and outcome.kind == "problem" else "unknown"
    reason_key = f"reason_{reason}" if f"reason_{reason}" in i18n.STRINGS else "reason_unknown"
    return {
        "home": {"priority_mode": priority is not None, "back_text": t("back", lang), "title": home_title},
        "priority": {"title": t("priority_title", lang), "back_text": t("back", lang)},
        "printing": {"printing_text": t("printing", lang), "your_number_text": t("your_number", lang),
                     "take_text": t("take_ticket", lang), "number": number,
                     "details": details(ticket, lang)},
        "problem": {"title": t("problem_title", lang), "reason": t(reason_key, lang),
                    "your_number_text": t("your_number", lang), "number": number,
                    "todo": t("problem_do", lang), "staff": t("problem_staff", lang),
                    "home_text": t("home", lang)},
        "closed": {"home_text": t("home", lang), **closed(cfg, outcome, lang)},
        "busy": {"title": t("busy_title", lang), "sub": t("busy_sub", lang)},
    }


def closed(cfg: site_config.SiteConfig, outcome: flow.Outcome | None, lang: str) -> dict[str, Any]:
    """Why no number was issued, and when to come back if the core said."""
    if outcome and outcome.kind == "closed":
        return {"title": t("closed_title", lang), "reason": t(CLOSED_REASONS[outcome.reason], lang),
                "next_text": next_open(cfg, outcome.next_open, lang)}
    if outcome and outcome.reason == "gave_up":
        return {"title": t("refused_title", lang), "reason": t("gave_up", lang), "next_text": ""}
    return {"title": t("refused_title", lang), "reason": t("ask_staff", lang), "next_text": ""}


def next_open(cfg: site_config.SiteConfig, when: float | None, lang: str) -> str:
    if when is None:
        return t("ask_staff", lang)
    local = cfg.local_time(when)
    return t("next_open", lang, time=local.strftime("%H:%M"), date=i18n.date_text(local.date(), lang))


def details(ticket: dict[str, Any], lang: str) -> str:
    """The lines under a printed number: field, people ahead, the wait told at
    issue (kiosk.waitwords, with its range when wide), counters."""
    if not ticket:
        return ""
    lines = []
    name = ticket.get("field_name_vi") if lang == "vi" else ticket.get("field_name_en")
    if name:
        lines.append(str(name))
    ahead = ticket.get("ahead")
    # None said by the core: every counter of the field is paused.
    w = flow.wait_figures(ticket, f"ticket {ticket.get('label')}")
    minutes, paused = w["minutes"], w["paused"]
    # Nobody ahead is a call at once only if the forecast says so: a counter
    # still busy with its citizen for a while is a wait too.
    soon = paused or minutes is None or waitwords.rounded(minutes) <= 1
    if isinstance(ahead, int):
        if ahead > 0:
            lines.append(t("ahead", lang, n=ahead))
        else:
            lines.append(t("ahead_none", lang) if soon and not paused else t("ahead_zero", lang))
    if paused:
        lines.append(t("estimate_paused", lang))
    elif isinstance(ahead, int) and minutes is not None and (ahead > 0 or not soon):
        lines.append(t("estimate_long", lang, w=waitwords.phrase(minutes, w["low"], w["high"], lang)))
    counters = ticket.get("counters") or []
    if counters:
        lines.append(t("counters", lang, list=i18n.join_counters(list(counters), lang)))
    return unicodedata.normalize("NFC", "\n".join(lines))


def tiles(cfg: site_config.SiteConfig, summary: dict[str, Any] | None, lang: str,
          spoken: bool = False) -> list[dict[str, Any]]:
    """Per configured field, in order: code, name, state (open | closed | quota |
    field_closed | day_closed) and the info line from the retained queue/summary:
    people waiting and the wait a ticket taken now is told (kiosk.waitwords;
    ``spoken``: the words the listen button reads)."""
    fields = [{"code": f.code, "name_vi": f.name_vi, "name_en": f.name_en, "closed": f.closed}
              for f in cfg.fields]
    shown = []
    for tile in flow.field_tiles(fields, summary):
        state = tile["state"]
        if state != "open":
            info = t(TILE_STATES[state], lang)
        elif tile["waiting"] is None:
            info = t("waiting_unknown", lang)
        elif (tile["waiting"] and tile["estimate"] is not None) or tile["paused"]:
            # Spoken, the whole phrase ("khoảng 12 phút"): a voice reads no "≈".
            words = waitwords.phrase if spoken else waitwords.short
            info = t("waiting_estimate", lang, n=tile["waiting"],
                     w=words(tile["estimate"], tile["low"], tile["high"], lang))
        else:
            info = t("waiting", lang, n=tile["waiting"])
        shown.append({"code": tile["code"], "name": tile["name_vi"] if lang == "vi" else tile["name_en"],
                      "state": state, "info": info})
    return shown


def priority_tile(lang: str) -> dict[str, Any]:
    return {"name": t("priority_button", lang), "info": t("priority_hint", lang)}


def priority_classes(cfg: site_config.SiteConfig, lang: str) -> dict[str, str]:
    """Each priority class's button label, by class code."""
    return {pc.code: _name(pc, lang) for pc in cfg.priority.classes}


def spoken(cfg: site_config.SiteConfig, screen: str, shown: dict[str, Any], outcome: flow.Outcome | None,
           summary: dict[str, Any] | None, phase: str = "done") -> str:
    """What the listen button says on ``screen``: its prompt, and after a ticket
    its number (in words, as the wall display reads it), the people ahead and
    the wait.  Always Vietnamese: the offline voice is a Vietnamese voice.
    ``shown`` is ``screens(cfg, "vi", …)``; ``phase`` the printing screen's."""
    from display import speech

    vi = "vi"
    ticket = outcome.ticket if outcome and outcome.ticket else {}
    parts: list[str] = []

    def number() -> None:
        label = str(ticket.get("label") or "")
        if label:
            try:
                words = speech.label_words(label, cfg.announcer.number_style)
            except speech.SpeechError:
                words = label
            parts.append(f"{t('your_number', vi)}: {words}")

    if screen == "home":
        parts.append(shown["home"]["title"])
        if shown["home"]["priority_mode"]:
            parts.append(t("home_title", vi))
        for tile in tiles(cfg, summary, vi, spoken=True):
            parts.append(f"{tile['name']}: {tile['info']}")
        if not shown["home"]["priority_mode"]:
            parts.append(f"{t('priority_button', vi)}: {t('priority_hint', vi)}")
    elif screen == "priority":
        parts.append(shown["priority"]["title"])
        parts += list(priority_classes(cfg, vi).values())
    elif screen == "printing" and phase == "printing":
        parts.append(shown["printing"]["printing_text"])
    elif screen == "printing":
        number()
        parts += details(ticket, vi).splitlines()
        parts.append(shown["printing"]["take_text"])
    elif screen == "problem":
        p = shown["problem"]
        parts += [p["title"], p["reason"], p["staff"]]
        number()
        parts.append(p["todo"])
    elif screen == "closed":
        c = shown["closed"]
        parts += [c["title"], c["reason"], c["next_text"]]
    elif screen == "busy":
        parts += [shown["busy"]["title"], shown["busy"]["sub"]]
    # The admin pad is for staff: nothing is read aloud there.
    text = ". ".join(p.strip().rstrip(".…") for p in parts if p and p.strip())
    text = re.sub(r"(?<=\w)\s*–\s*(?=\d)", f" {t('range_to', vi)} ", text)
    return unicodedata.normalize("NFC", (text + ".") if text else "").replace("\u00a0", " ")
