"""The production ACL example says what the generator writes."""
from kiosk import config
from kiosk.broker import acl_text
from tests.conftest import DEMO_SITE, ROOT


def blocks(text):
    out, user = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("user "):
            user = line.split()[1]
            out[user] = []
        elif line.startswith("topic ") and user:
            out[user].append(line)
    return out


def test_acl_example_matches_the_generator():
    cfg = config.load(DEMO_SITE)
    example = blocks((ROOT / "deploy" / "mosquitto" / "phucvu.acl.example").read_text())
    generated = blocks(acl_text(cfg.topic_prefix, list(example)))
    assert example == generated


def test_production_config_refuses_anonymous():
    conf = (ROOT / "deploy" / "mosquitto" / "phucvu.conf").read_text()
    assert "allow_anonymous false" in conf and "acl_file" in conf and "password_file" in conf
