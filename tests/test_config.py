"""The site config: validation messages, and docs/config.md lists every key."""
import re
import tomllib

import pytest

from kiosk import config
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
