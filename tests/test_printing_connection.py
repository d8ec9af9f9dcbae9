from __future__ import annotations

import pytest

from kiosk.config import ConfigError, parse as parse_config
from kiosk.printing.connection import Connection, ConnectionStringError, parse


@pytest.mark.parametrize(
    "text,expected",
    [
        ("sim:tickets", Connection("sim", path="/srv/tickets")),
        ("usb:0416:5011", Connection("usb", vid=0x0416, pid=0x5011)),
        ("usb:0x04b8:0x0e15", Connection("usb", vid=0x04B8, pid=0x0E15)),
        ("serial:/dev/ttyUSB0", Connection("serial", path="/dev/ttyUSB0", baud=9600)),
        ("serial:/dev/phucvu-printer@115200", Connection("serial", path="/dev/phucvu-printer", baud=115200)),
        ("network:192.168.1.50", Connection("network", host="192.168.1.50", port=9100)),
        ("network:printer.local:9101", Connection("network", host="printer.local", port=9101)),
        ("file:/dev/usb/lp0", Connection("file", path="/dev/usb/lp0")),
    ],
)
def test_parse(text, expected):
    assert parse(text, base_dir="/srv") == expected


@pytest.mark.parametrize(
    "text,why",
    [
        ("lp0", "missing"),
        ("usb:zz:11", "hex"),
        ("serial:/dev/ttyS0@9601", "baud"),
        ("network:host:99999", "port"),
        ("bluetooth:aa", "unknown kind"),
    ],
)
def test_parse_errors_name_the_key(text, why):
    with pytest.raises(ConnectionStringError, match=why) as e:
        parse(text)
    assert "[printer] connection" in str(e.value)


def test_site_config_rejects_an_unknown_connection_kind():
    from pathlib import Path
    import tomllib

    data = tomllib.loads(Path("deploy/demo-site.toml").read_text(encoding="utf-8"))
    data["printer"] = {"connection": "lpt:1"}
    with pytest.raises(ConfigError, match="printer.connection"):
        parse_config(data, "site.toml")
