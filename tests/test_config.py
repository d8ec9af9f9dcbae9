"""The site config: validation messages, and docs/config.md lists every key."""
import copy
import re
import tomllib
import types
import typing

import pytest
from pydantic import BaseModel

from kiosk import config
from kiosk.config.loading import toml_value
from kiosk.province import config as province_config
from tests.conftest import DEMO_SITE, ROOT


def demo_data():
    return tomllib.loads(DEMO_SITE.read_text())


def error_for(data, tmp_path):
    path = tmp_path / "site.toml"
    with pytest.raises(config.ConfigError) as e:
        config.parse(data, str(path))
    return str(e.value)


def test_demo_and_example_configs_load():
    for path in [DEMO_SITE, ROOT / "deploy" / "site.example.toml"]:
        cfg = config.load(path)
        assert cfg.fields and cfg.counters


def test_unknown_key_names_file_and_key(tmp_path):
    data = demo_data()
    data["fields"][1]["minute_per_citizen"] = 5
    msg = error_for(data, tmp_path)
    assert "site.toml: fields[1].minute_per_citizen: unknown key" in msg


def test_wrong_type_says_what_was_expected(tmp_path):
    data = demo_data()
    data["fields"][0]["prefix"] = "ab"
    msg = error_for(data, tmp_path)
    assert "fields[0].prefix" in msg and "'ab'" in msg and "[A-Z]" in msg


def test_cross_references_are_checked(tmp_path):
    data = demo_data()
    data["counters"][0]["fields"] = ["tu-phap", "no-such-field"]
    assert "unknown field 'no-such-field'" in error_for(data, tmp_path)
    data = demo_data()
    data["fields"][1]["prefix"] = "A"
    assert "prefix 'A' is used twice" in error_for(data, tmp_path)


def test_rating_levels_three_to_five(tmp_path):
    data = demo_data()
    data["rating"]["levels"] = data["rating"]["levels"][:2]
    assert "rating.levels" in error_for(data, tmp_path)


def test_targets_per_field_fall_back_to_the_site_and_the_field(tmp_path):
    data = demo_data()
    data["targets"] = {"wait_min": 20, "fields": {"dat-dai": {"wait_min": 45, "service_min": 25}}}
    cfg = config.parse(data, "site.toml")
    assert cfg.wait_target_min("dat-dai") == 45 and cfg.wait_target_min("tu-phap") == 20
    assert cfg.service_target_min("dat-dai") == 25
    # No service target anywhere: the field's own typical minutes.
    assert cfg.service_target_min("tu-phap") == cfg.field("tu-phap").minutes_per_citizen
    data["targets"]["fields"]["no-such-field"] = {"wait_min": 5}
    assert "targets.fields: unknown field 'no-such-field'" in error_for(data, tmp_path)


def test_a_moved_key_says_where_it_went(tmp_path):
    data = demo_data()
    data.setdefault("web", {})["alert_wait_min"] = 20
    assert "web.alert_wait_min: moved to [targets] wait_min" in error_for(data, tmp_path)


def test_levels_map_onto_the_circulars_three_grades(tmp_path):
    data = demo_data()
    assert config.parse(data, "x").rating.grades() == {
        "rat-hai-long": "rat-hai-long", "hai-long": "hai-long", "khong-hai-long": "khong-hai-long"}
    five = [{"code": c, "name_vi": c, "name_en": c, "satisfied": sat}
            for c, sat in [("a", True), ("b", True), ("c", True), ("d", False), ("e", False)]]
    data["rating"]["levels"] = five
    assert config.parse(data, "x").rating.grades() == {
        "a": "rat-hai-long", "b": "hai-long", "c": "hai-long", "d": "khong-hai-long",
        "e": "khong-hai-long"}
    five[2]["grade"] = "rat-hai-long"        # a site may say so itself
    assert config.parse(data, "x").rating.grades()["c"] == "rat-hai-long"
    five[3]["grade"] = "hai-long"            # but not call an unhappy level happy
    assert "grade 'hai-long' does not agree with satisfied = false" in error_for(data, tmp_path)
    # One satisfied level only: it is "Hài lòng", not "Rất hài lòng".
    data["rating"]["levels"] = [{**lv, "satisfied": i == 0} for i, lv in enumerate(five[:3])]
    for lv in data["rating"]["levels"]:
        lv.pop("grade", None)
    assert config.parse(data, "x").rating.grades()["a"] == "hai-long"


def test_hours_must_be_ordered(tmp_path):
    data = demo_data()
    data["hours"] = [{"days": ["mon"], "open": "17:00", "close": "07:00"}]
    assert "close 07:00 must be after open 17:00" in error_for(data, tmp_path)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[site\nid=1")
    with pytest.raises(config.ConfigError, match="bad.toml: not valid TOML"):
        config.load(bad)
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.toml")


def test_vietnamese_is_normalised_to_nfc(tmp_path):
    import unicodedata
    data = demo_data()
    data["site"]["commune"] = unicodedata.normalize("NFD", "Xã Thắng Lộc")
    cfg = config.parse(data)
    assert cfg.site.commune == unicodedata.normalize("NFC", "Xã Thắng Lộc")


def test_every_key_is_documented():
    page = (ROOT / "docs" / "config.md").read_text()
    documented = set(re.findall(r"^\|\s*`([a-z0-9_.]+)`", page, re.M))
    missing = [k for k in config.documented_keys() if k not in documented]
    assert not missing, f"keys missing from docs/config.md: {missing}"
    stale = documented - set(config.documented_keys())
    assert not stale, f"docs/config.md lists keys the code does not have: {sorted(stale)}"



# -- strict types ------------------------------------------------------------
# The cases are generated from the models' fields, so a key added later is
# checked without anyone remembering to add it here.

# Wrong values of each TOML type, by the type a field expects.
WRONG = {
    int: ["7", 7.5, True],
    float: ["7.5", True],
    bool: ["true", 1, 0],
    str: [7, 2.5, True],
    "literal": [7, True],
    "list": ["x", 7],
    "table": ["x", 7, ["x"]],
    "dict": ["x", 7, ["x"]],
}


def _kind(annotation):
    """The kind a field expects, and a list's element or a table's model."""
    if typing.get_origin(annotation) is typing.Annotated:   # list[Code]'s elements
        return _kind(typing.get_args(annotation)[0])
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        (inner,) = args   # the models only use "X | None" unions
        return _kind(inner)
    if typing.get_origin(annotation) is typing.Literal:
        return "literal", None
    if typing.get_origin(annotation) is list:
        return "list", args[0]
    if typing.get_origin(annotation) is dict:    # a table keyed by a code
        return "dict", args[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table", annotation
    assert annotation in (int, float, bool, str), f"no wrong values known for {annotation!r}"
    return annotation, None


def wrong_type_cases(model, data, path=()):
    """(key path, wrong value) for every field of every section under ``model``.

    ``data`` is a valid document holding every section at least once, so
    every nested section is reached; one it lacks fails the assert below.
    """
    for name, info in model.model_fields.items():
        key = (*path, name)
        kind, inner = _kind(info.annotation)
        for wrong in WRONG[kind]:
            yield key, wrong
        if kind in ("list", "table", "dict"):
            assert name in data, f"{dotted(key)}: the base document must hold this to check inside it"
        if kind == "list":
            elem_kind, elem = _kind(inner)
            for wrong in WRONG[elem_kind]:
                yield (*key, 0), wrong
            if elem_kind == "table":
                yield from wrong_type_cases(elem, data[name][0], (*key, 0))
        elif kind == "table":
            yield from wrong_type_cases(inner, data[name], key)
        elif kind == "dict":
            first = next(iter(data[name]))
            yield from wrong_type_cases(inner, data[name][first], (*key, first))


def dotted(key):
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in key).lstrip(".")


def put(doc, key, value):
    doc = copy.deepcopy(doc)
    at = doc
    for k in key[:-1]:
        at = at[k]
    at[key[-1]] = value
    return doc


def full_site():
    """The demo centre with every optional section filled in."""
    data = demo_data()
    data["fields"][0]["hours"] = copy.deepcopy(data["hours"])
    data["bridge"] = {"devices": [{"counter": 1, "port": "/dev/ttyUSB0"}]}
    data["uplink"] = {"host": "mqtt.example.gov.vn"}
    data["phone"] = {"public_url": "http://192.168.4.1:8090"}
    data["targets"] = {"fields": {data["fields"][0]["code"]: {"wait_min": 20}}}
    for section in ("priority", "rating", "mqtt", "store", "printer", "display", "announcer", "web",
                    "cases"):
        data.setdefault(section, {})
    data["rating"].setdefault("reasons", [{"code": "cho-lau", "name_vi": "Chờ lâu", "name_en": "Long wait"}])
    return data


def full_province():
    return tomllib.loads((ROOT / "deploy" / "province.example.toml").read_text())


CONFIGS = {
    "site": (config.SiteConfig, full_site, config.parse),
    "province": (province_config.ProvinceConfig, full_province, province_config.parse),
}
CASES = [(which, key, wrong) for which, (model, base, _) in CONFIGS.items()
         for key, wrong in wrong_type_cases(model, base())]


def test_the_full_documents_are_valid():
    for model, base, parse in CONFIGS.values():
        parse(base())


@pytest.mark.parametrize(("which", "key", "wrong"), CASES,
                         ids=[f"{w}:{dotted(k)}={v!r}" for w, k, v in CASES])
def test_a_wrong_typed_value_is_refused_naming_the_key(which, key, wrong):
    _, base, parse = CONFIGS[which]
    with pytest.raises(config.ConfigError) as e:
        parse(put(base(), key, wrong), f"{which}.toml")
    lines = str(e.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{which}.toml: {dotted(key)}: expected "), lines[0]
    assert f", got {toml_value(wrong)}" in lines[0], lines[0]


def test_every_section_has_cases():
    reached = {type(m) for m in _sections(config.parse(full_site()))}
    reached |= {type(m) for m in _sections(province_config.parse(full_province()))}
    checked = {k[0] for w, k, _ in CASES}
    assert {"site", "hours", "fields", "counters", "priority", "rating", "mqtt", "store", "printer",
            "display", "announcer", "bridge", "web", "uplink"} <= checked
    assert {"province", "broker", "database"} <= checked
    sections = {c for c in vars(config).values() if isinstance(c, type) and issubclass(c, config.Section)}
    sections |= {c for c in vars(province_config).values()
                 if isinstance(c, type) and issubclass(c, config.Section)}
    missing = sections - reached - {config.Section, config.TlsClient}
    assert not missing, f"sections the full documents do not reach: {missing}"


def _sections(model):
    yield model
    for name in type(model).model_fields:
        value = getattr(model, name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, BaseModel):
                yield from _sections(v)


def test_daily_quota_in_quotes_is_refused(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(DEMO_SITE.read_text().replace("daily_quota = 200", 'daily_quota = "200"', 1))
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    assert str(e.value) == (f"{path}: fields[0].daily_quota: expected an integer, got the string '200'"
                            " (numbers and true/false are written without quotes)")


def test_an_integer_is_a_valid_number():
    # 60 for 60.0: TOML's integers stay valid where a float is expected.
    data = demo_data()
    data["rating"]["window_s"] = 60
    assert config.parse(data).rating.window_s == 60.0
