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


def test_every_config_takes_the_login_as_client_id(tmp_path):
    """No login may take another's session by reusing its client id."""
    from kiosk.broker import Broker
    cfg = config.load(DEMO_SITE)
    prod = (ROOT / "deploy" / "mosquitto" / "phucvu.conf").read_text().splitlines()
    assert "use_username_as_clientid true" in prod
    generated = Broker(tmp_path / "b", cfg)
    assert "use_username_as_clientid true" in (generated.dir / "mosquitto.conf").read_text().splitlines()


def test_production_logins_have_no_superuser(tmp_path):
    """Only the core reads and writes everything; the test logins exist only where asked for."""
    from click.testing import CliRunner

    from kiosk.broker import Broker, BrokerError, users_for
    from kiosk.cli import cli
    cfg = config.load(DEMO_SITE)
    assert users_for(cfg)[:3] == ["core", "cli", "web"] and "console" not in users_for(cfg)
    out = CliRunner().invoke(cli, ["broker", "--config", str(DEMO_SITE), "--dir", str(tmp_path / "p"),
                                   "--no-run"])
    assert out.exit_code == 0, out.output
    acl = blocks((tmp_path / "p" / "acl").read_text())
    assert set(acl) == set(users_for(cfg))
    everything = f"topic readwrite {cfg.topic_prefix}/#"
    assert [u for u, lines in acl.items() if everything in lines] == ["core"]
    assert not list((tmp_path / "p" / "secrets").glob("tester-*"))
    b = Broker(tmp_path / "t", cfg, superusers=["tester-1"], observers=["watch"])
    acl = blocks((b.dir / "acl").read_text())
    assert acl["tester-1"] == [everything] and acl["watch"] == [f"topic read {cfg.topic_prefix}/#"]
    assert b.password("tester-1") and b.password("watch")
    try:
        Broker(tmp_path / "x", cfg, superusers=["kiosk-1"])
    except BrokerError as e:
        assert "production login" in str(e)
    else:
        raise AssertionError("a production login became a superuser")
