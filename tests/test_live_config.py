"""kiosk.config.live: the retained config/site merged into a device's own config."""
from __future__ import annotations

import copy
import hashlib
import json

import pytest

from kiosk import config
from kiosk.config import live


def payload(cfg_dict: dict, version: int = 2) -> dict:
    text = json.dumps(cfg_dict, sort_keys=True, ensure_ascii=False)
    return {"version": version, "hash": hashlib.sha256(text.encode()).hexdigest()[:16],
            "at": 1764230000.1, "by": "qt01", "changes": [], "config": cfg_dict}


def test_hash_is_the_contracts(site):
    body = site.model_dump(mode="json")
    want = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    assert live.config_hash(site) == want == live.config_hash(body)
    changed = copy.deepcopy(body)
    changed["site"]["commune"] = "Xã Khác"
    assert live.config_hash(changed) != want


def test_merge_takes_live_sections_and_keeps_local_ones(site):
    remote = site.model_dump(mode="json")
    remote["fields"][0]["name_vi"] = "Tư pháp mới"
    remote["fields"][1]["closed"] = True
    remote["counters"][0]["name"] = "Quầy một"
    remote["display"]["notice"] = "Thông báo mới"
    remote["announcer"]["speed"] = 120
    remote["rating"]["levels"].append({"code": "binh-thuong", "name_vi": "Bình thường",
                                       "name_en": "Neutral", "satisfied": False})
    # The core's own machine: another port, database and printer; never taken.
    remote["mqtt"]["port"] = 18830
    remote["store"]["path"] = "/elsewhere/core.db"
    remote["web"]["port"] = 9999
    new = live.merge(site, payload(remote))
    assert new.fields[0].name_vi == "Tư pháp mới"
    assert new.fields[1].closed is True
    assert new.counters[0].name == "Quầy một"
    assert new.display.notice == "Thông báo mới"
    assert new.announcer.speed == 120
    assert len(new.rating.levels) == 4
    assert (new.mqtt, new.store, new.printer, new.bridge, new.web) == \
        (site.mqtt, site.store, site.printer, site.bridge, site.web)
    assert site.fields[0].name_vi != "Tư pháp mới"      # the local config is untouched


def test_a_field_added_and_one_removed(site):
    remote = site.model_dump(mode="json")
    gone = remote["fields"].pop()["code"]
    for c in remote["counters"]:
        c["fields"] = [f for f in c["fields"] if f != gone] or [remote["fields"][0]["code"]]
    remote["fields"].append({"code": "moi", "name_vi": "Lĩnh vực mới", "name_en": "New field",
                             "prefix": "Z", "minutes_per_citizen": 5})
    remote["counters"][0]["fields"].append("moi")
    new = live.merge(site, payload(remote))
    codes = [f.code for f in new.fields]
    assert "moi" in codes and gone not in codes


def test_another_site_or_timezone_is_refused(site):
    other = site.model_dump(mode="json")
    other["site"]["id"] = "xa-khac"
    with pytest.raises(config.ConfigError, match=r"config/site: site.id: .*'xa-khac'"):
        live.merge(site, payload(other))
    tz = site.model_dump(mode="json")
    tz["site"]["timezone"] = "Asia/Bangkok"
    with pytest.raises(config.ConfigError, match="site.timezone: .*needs a restart"):
        live.merge(site, payload(tz))


def test_an_invalid_payload_names_the_key(site):
    bad = site.model_dump(mode="json")
    bad["fields"][0]["prefix"] = "ab"
    with pytest.raises(config.ConfigError) as e:
        live.merge(site, payload(bad))
    assert str(e.value).startswith("config/site: fields[0].prefix:")
    unknown = site.model_dump(mode="json")
    unknown["display"]["colour"] = "red"
    with pytest.raises(config.ConfigError, match=r"display.colour: unknown key"):
        live.merge(site, payload(unknown))
    for junk in ([], {"version": 3}, {"config": {"fields": []}}):
        with pytest.raises(config.ConfigError):
            live.merge(site, junk)


def test_live_offers_each_version_once(site):
    state = live.Live(site)
    same = payload(site.model_dump(mode="json"), version=1)
    assert state.offer(same) is None               # the file's own config: nothing to do
    remote = site.model_dump(mode="json")
    remote["site"]["commune"] = "Xã Mới"
    p2 = payload(remote, version=2)
    new = state.offer(p2)
    assert new is not None and new.site.commune == "Xã Mới"
    assert state.config is new and state.hash == p2["hash"] and state.version == 2
    assert state.offer(p2) is None                 # the core's republish on reconnect
    # A change only to another machine's sections: nothing for this device.
    remote["mqtt"]["keepalive"] = 99
    assert state.offer(payload(remote, version=3)) is None
    bad = copy.deepcopy(remote)
    bad["counters"] = []
    with pytest.raises(config.ConfigError):
        state.offer(payload(bad, version=4))
    assert state.config is new                     # kept what it had
    assert live.changed_sections(site, new) == ["site"]
