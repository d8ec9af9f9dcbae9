"""The ticket token: unguessable, bound to its ticket, and one secret per site."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from kiosk.phone import token


def test_a_token_is_its_own_tickets_only():
    secret = bytes(range(32))
    t = token.make(secret, "20261202-B001")
    assert token.TOKEN_RE.fullmatch(t)
    assert token.check(secret, "20261202-B001", t)
    assert not token.check(secret, "20261202-B002", t)            # another ticket's token
    assert not token.check(bytes(32), "20261202-B001", t)         # another site's secret
    assert not token.check(secret, "20261202-B001", t[:-1] + ("A" if t[-1] != "A" else "B"))
    assert not token.check(secret, "20261202-B001", "")
    assert not token.check(secret, "20261202-B001", None)
    assert token.address("http://192.168.4.1:8090/", secret, "20261202-B001") == \
        f"http://192.168.4.1:8090/t/20261202-B001/{t}"


def test_the_secret_is_made_once_private_and_kept(tmp_path):
    path = tmp_path / "sub" / "phone.key"
    first = token.load_or_create(path)
    assert len(first) == token.SECRET_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert token.load_or_create(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["phone.key"]   # no temporary file left


def test_processes_starting_together_share_one_secret(tmp_path):
    path = tmp_path / "phone.key"
    code = f"from kiosk.phone import token; print(token.load_or_create({str(path)!r}).hex())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = {p.communicate(timeout=30)[0].strip() for p in procs}
    assert len(outs) == 1 and len(outs.pop()) == 64


@pytest.mark.parametrize("content", ["", "not hex\n", "ab" * 10])
def test_a_file_that_is_not_a_secret_is_refused_by_name(tmp_path, content):
    path = tmp_path / "phone.key"
    path.write_text(content)
    with pytest.raises(token.SecretError, match="phone.key: not a phone secret"):
        token.load_or_create(path)
