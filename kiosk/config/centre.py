"""How a centre serves: the site, opening hours, fields, counters, priority
classes and rating levels.  The queue's rules (``kiosk/core/domain.py``) and
the reports read these; docs/config.md explains each key.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from kiosk.config.section import HHMM, Code, Section, ViText, nfc, timezone_name

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


class Session(Section):
    """One opening session, e.g. Monday to Friday 07:00–11:30."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    open: HHMM
    close: HHMM

    @model_validator(mode="after")
    def _ordered(self) -> "Session":
        if _minutes(self.close) <= _minutes(self.open):
            raise ValueError(f"close {self.close} must be after open {self.open}")
        return self

    def open_minute(self) -> int:
        return _minutes(self.open)

    def close_minute(self) -> int:
        return _minutes(self.close)


def default_hours() -> list[Session]:
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    return [
        Session(days=weekdays, open="07:00", close="11:30"),
        Session(days=weekdays, open="13:30", close="17:00"),
    ]


class SiteSection(Section):
    id: Code
    commune: ViText
    centre: ViText
    province: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"

    _nfc = field_validator("commune", "centre", "province")(nfc)

    _tz = field_validator("timezone")(timezone_name)


# The kiosk's built-in field icons (kiosk/ui/icons.py draws each shape); the
# admin pages offer these.  "priority" is the priority tile's own.
FIELD_ICONS = ("tu-phap", "chung-thuc", "dat-dai", "van-hoa-xa-hoi", "kinh-te", "document")


class FieldSection(Section):
    """A lĩnh vực: one queue with its own ticket prefix."""

    code: Code
    name_vi: ViText
    name_en: ViText
    prefix: Annotated[str, Field(pattern=r"^[A-Z]$")]
    minutes_per_citizen: float = Field(gt=0, le=240)
    daily_quota: int = Field(default=999, ge=1, le=999)
    # None: the site's [[hours]].
    hours: list[Session] | None = None
    # "": the icon named like the field's code, else the plain document.
    icon: Literal[("", *FIELD_ICONS)] = ""  # type: ignore[valid-type]
    # Closed for new tickets (the kiosk shows it closed, the core refuses to
    # issue); those already waiting are still called.  How a field with
    # people waiting is taken out of service: it cannot be deleted then.
    closed: bool = False

    def icon_kind(self) -> str:
        if self.icon:
            return self.icon
        return self.code if self.code in FIELD_ICONS else "document"

    _nfc = field_validator("name_vi", "name_en")(nfc)


class CounterSection(Section):
    """A quầy; ``fields`` in the order the counter serves them."""

    number: int = Field(ge=1, le=99)
    name: ViText
    fields: list[Code] = Field(min_length=1)

    _nfc = field_validator("name")(nfc)


class Named(Section):
    """A code with a Vietnamese and an English name: a priority class, a
    rating level, a reason."""
    code: Code
    name_vi: ViText
    name_en: ViText

    _nfc = field_validator("name_vi", "name_en")(nfc)


class PriorityClass(Named):
    pass


def _default_priority_classes() -> list[PriorityClass]:
    return [
        PriorityClass(code="cao-tuoi", name_vi="Người cao tuổi", name_en="Elderly person"),
        PriorityClass(code="khuyet-tat", name_vi="Người khuyết tật", name_en="Person with a disability"),
        PriorityClass(code="co-thai", name_vi="Phụ nữ có thai", name_en="Pregnant woman"),
        PriorityClass(code="co-cong", name_vi="Người có công", name_en="Person of merit"),
        PriorityClass(code="lan-xanh", name_vi="Làn xanh", name_en="Green lane"),
    ]


class PrioritySection(Section):
    # After this many priority calls in a row at one counter, the next call
    # takes a normal ticket if one waits, so normal tickets are not starved.
    interleave: int = Field(default=3, ge=1, le=100)
    classes: list[PriorityClass] = Field(default_factory=_default_priority_classes)


# The three levels of Circular 01/2018/TT-VPCP's rating (docs/reports.md):
# the official pack reports every site level as one of them.
GRADES = ("rat-hai-long", "hai-long", "khong-hai-long")


class RatingLevel(Named):
    # Counted in the satisfaction rate (the top two of three by default).
    satisfied: bool
    # Which of the Circular's three levels it is reported as; absent: the
    # best satisfied level is "rat-hai-long" (when more than one level is
    # satisfied), the other satisfied ones "hai-long", the rest "khong-hai-long".
    grade: Literal[GRADES] | None = None  # type: ignore[valid-type]


def _default_levels() -> list[RatingLevel]:
    return [
        RatingLevel(code="rat-hai-long", name_vi="Rất hài lòng", name_en="Very satisfied", satisfied=True),
        RatingLevel(code="hai-long", name_vi="Hài lòng", name_en="Satisfied", satisfied=True),
        RatingLevel(code="khong-hai-long", name_vi="Không hài lòng", name_en="Not satisfied", satisfied=False),
    ]


class RatingReason(Named):
    """Why a citizen was not satisfied: offered on the phone page (docs/phone.md)."""


def _default_reasons() -> list[RatingReason]:
    # The complaints a commune centre hears most (seed notes), plus "other",
    # which the phone page pairs with a short comment.
    return [
        RatingReason(code="cho-lau", name_vi="Chờ lâu", name_en="Long wait"),
        RatingReason(code="thai-do", name_vi="Thái độ cán bộ", name_en="Staff attitude"),
        RatingReason(code="huong-dan", name_vi="Hướng dẫn chưa rõ", name_en="Unclear guidance"),
        RatingReason(code="di-lai", name_vi="Phải đi lại nhiều lần", name_en="Had to come back several times"),
        RatingReason(code="khac", name_vi="Lý do khác", name_en="Other"),
    ]


class RatingSection(Section):
    window_s: float = Field(default=60, ge=5, le=600)
    # Presses at one counter closer together than this are not a person
    # answering a question: kept as 'too_fast', never counted.
    min_press_interval_s: float = Field(default=1.0, ge=0, le=30)
    # A box's press is judged on the box's clock mapped to the core's
    # (docs/reports.md).  When the window was opened by another source (the
    # browser's "finish"), the mapping may be off by the link's delay and
    # drift: a press this close after the window's end still counts.
    clock_tolerance_s: float = Field(default=1.0, ge=0, le=10)
    # How fast a box's clock may drift from the core's, in parts per million,
    # for the mapping to forgive a stale estimate (crystals: 20-100 ppm).
    max_drift_ppm: float = Field(default=200, ge=0, le=10000)
    # A press that reaches the core this long after it was made is flagged
    # delivered_late in the data (it is still judged on its press time).
    late_after_s: float = Field(default=2.0, ge=0.1, le=3600)
    levels: list[RatingLevel] = Field(default_factory=_default_levels, min_length=3, max_length=5)
    # Offered on the phone page with a level that is not satisfied.
    reasons: list[RatingReason] = Field(default_factory=_default_reasons, max_length=12)

    @model_validator(mode="after")
    def _some_satisfied(self) -> "RatingSection":
        if not any(lv.satisfied for lv in self.levels):
            raise ValueError("at least one rating level must have satisfied = true")
        if all(lv.satisfied for lv in self.levels):
            raise ValueError("at least one rating level must have satisfied = false")
        for i, lv in enumerate(self.levels):
            if lv.grade is not None and (lv.grade == "khong-hai-long") == lv.satisfied:
                raise ValueError(f"levels[{i}] ({lv.code}): grade {lv.grade!r} does not agree "
                                 f"with satisfied = {str(lv.satisfied).lower()}")
        return self

    def grades(self) -> dict[str, str]:
        """Each level's code → its grade among the Circular's three."""
        return derive_grades([(lv.code, lv.satisfied, lv.grade) for lv in self.levels])


def derive_grades(levels: list[tuple[str, bool, str | None]]) -> dict[str, str]:
    """(code, satisfied, grade or None) of each level, best first → each
    code's grade: its own, else the best satisfied level is "rat-hai-long"
    when more than one level is satisfied, the other satisfied ones
    "hai-long", the rest "khong-hai-long".  The site's config and the
    province (for a site/info that sends no grades) both grade by this."""
    satisfied = [code for code, ok, _ in levels if ok]
    out: dict[str, str] = {}
    for code, ok, grade in levels:
        if grade is not None:
            out[code] = grade
        elif not ok:
            out[code] = "khong-hai-long"
        elif len(satisfied) > 1 and code == satisfied[0]:
            out[code] = "rat-hai-long"
        else:
            out[code] = "hai-long"
    return out


class FieldTarget(Section):
    """One field's own targets; an absent key takes the site's."""

    wait_min: float | None = Field(default=None, gt=0, le=600)
    service_min: float | None = Field(default=None, gt=0, le=240)


class TargetsSection(Section):
    """What the centre promises (docs/reports.md, "Targets"): the dashboard's
    alerts and the reports' within-target and on-time shares use them."""

    # The longest a citizen should wait from ticket to first call, in
    # minutes (Ho Chi Minh City set 20 in 2025).
    wait_min: float = Field(default=30, gt=0, le=600)
    # The typical service, in minutes: a served ticket is on time within
    # it.  Absent: each field's minutes_per_citizen.
    service_min: float | None = Field(default=None, gt=0, le=240)
    # Per field code.
    fields: dict[Code, FieldTarget] = Field(default_factory=dict)


class CasesSection(Section):
    """A follow-up case for every counted "not satisfied" rating (docs/reports.md, "Follow-up cases")."""

    # The head closes a case within this many working days (days with
    # opening hours) after the rating's day: due at that day's last close.
    deadline_days: int = Field(default=3, ge=1, le=60)
    # The dashboard reminds of a case this many hours before it is due.
    remind_hours: float = Field(default=24, ge=0, le=24 * 30)

