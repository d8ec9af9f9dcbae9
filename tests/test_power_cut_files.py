"""A power cut at each step of a write the appliance keeps across restarts.

The write runs in a child process that SIGKILLs itself just before its k-th
call to link, rename, unlink or fsync, for every k up to the write's last
one, so no moment is left to a timer's luck (CI found the moment between
the site file's two renames only once in many runs).  Checked here: the
site file's save (kiosk/core/store_sitefile.py), the files made once and
kept (kiosk/durable.py: the broker's passwords, the phone secret, the
wizard's site file), and what the broker does with a password file a cut
left empty.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib

from kiosk import config, durable
from kiosk.broker import Broker
from kiosk.core import store_sitefile as sitefile
from tests.conftest import DEMO_SITE, ROOT, connack

# The child: counts the calls that change a directory or make it durable,
# and dies at the k-th one as a power cut would, with no cleanup.
CHILD = r"""
import os, signal, sys
from kiosk import durable
from kiosk.core import store_sitefile as sitefile
how, target, data_file, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = open(data_file, "rb").read()
calls = 0
def cut(fn):
    def wrapped(*a, **kw):
        global calls
        calls += 1
        if calls == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*a, **kw)
    return wrapped
for name in ("link", "replace", "unlink", "fsync"):
    setattr(os, name, cut(getattr(os, name)))
if how == "sitefile":
    sitefile.write(target, data.decode("utf-8"))
else:
    getattr(durable, how)(target, data)
print(calls)
"""


def in_child(how: str, target, data: bytes, k: int, scratch):
    data_file = scratch / "child-data"
    data_file.write_bytes(data)
    return subprocess.run([sys.executable, "-c", CHILD, how, str(target), str(data_file), str(k)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def steps(how: str, make_target, data: bytes, scratch) -> int:
    """How many counted calls a whole write makes."""
    done = in_child(how, make_target(scratch / f"count-{how}"), data, 0, scratch)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def config_with(name: str, version: int) -> str:
    data = tomllib.loads(DEMO_SITE.read_text(encoding="utf-8"))
    data["counters"][0]["name"] = name
    return sitefile.render(data, version=version, by="qt01", at=0.0)


def first_name(path) -> str:
    return tomllib.loads(path.read_text(encoding="utf-8"))["counters"][0]["name"]


# ------------------------------------------------------------- the site file
def a_site_file(d):
    d.mkdir()
    site = d / "site.toml"
    site.write_text(config_with("Quầy cũ", 2), encoding="utf-8")
    (d / "site.toml.prev").write_text(config_with("Quầy trước", 1), encoding="utf-8")
    return site


def test_a_cut_at_every_step_of_a_site_file_save_leaves_it_whole_and_no_litter(tmp_path):
    new = config_with("Quầy mới", 3).encode("utf-8")
    n = steps("sitefile", a_site_file, new, tmp_path)
    assert n == 6   # the text's sync, the link, two renames, the unlink, the directory's sync
    for k in range(1, n + 1):
        d = tmp_path / f"cut{k}"
        site = a_site_file(d)
        cut = in_child("sitefile", site, new, k, tmp_path)
        assert cut.returncode == -9, (k, cut.returncode, cut.stderr)
        # Whole, and one of the two configs.
        assert first_name(site) in {"Quầy cũ", "Quầy mới"}, k
        # What the core does at start, then its next save.
        sitefile.clean(site)
        before = site.read_bytes()
        sitefile.write(site, config_with("Quầy sau", 4))
        assert sorted(p.name for p in d.iterdir()) == ["site.toml", "site.toml.prev"], k
        assert (d / "site.toml.prev").read_bytes() == before, k
        assert first_name(site) == "Quầy sau", k


# ----------------------------------------------------- files made only once
def a_secret_path(d):
    d.mkdir()
    return d / "core.password"


def test_a_cut_at_every_step_of_a_create_leaves_no_file_or_the_whole_one(tmp_path):
    secret = b"s3cret-made-once\n"
    n = steps("create", a_secret_path, secret, tmp_path)
    assert n == 4   # the data's sync, the link, the directory's sync, the temporary's unlink
    for k in range(1, n + 1):
        path = a_secret_path(tmp_path / f"cut{k}")
        cut = in_child("create", path, secret, k, tmp_path)
        assert cut.returncode == -9, (k, cut.returncode, cut.stderr)
        # Never an empty or a partial file under the real name.
        assert not path.exists() or path.read_bytes() == secret, k
        # A second try makes it, or finds the first one's whole file.
        made = durable.create(path, b"another\n")
        assert path.read_bytes() == (b"another\n" if made else secret), k
        assert path.stat().st_mode & 0o777 == 0o600


def test_replace_keeps_its_mode_whatever_the_umask(tmp_path):
    path = tmp_path / "kiosk.json"
    path.write_text("{}")
    path.chmod(0o666)
    durable.replace(path, b'{"language": "vi"}\n', 0o644)
    assert path.read_bytes() == b'{"language": "vi"}\n' and path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["kiosk.json"]


# --------------------------------------- a password file a cut left empty
def test_an_empty_password_file_is_made_again_never_let_in_empty(tmp_path):
    """A power cut while ``counter-1.password`` was first written left it
    empty (a plain write does that on ext4).  Kept, every client refuses
    it and the login stays locked out until someone deletes the file (on
    the core's box, the core never starts); NULs made ``phucvu broker``
    itself fail with a traceback.  The broker makes a new one, says so,
    and keeps the others."""
    cfg = config.load(DEMO_SITE)
    first = Broker(tmp_path / "b", cfg)
    kept = first.password("core")
    broken = first.password_file("counter-1")
    broken.write_text("")
    nul = first.password_file("counter-2")
    nul.write_bytes(b"\0" * 8)
    litter = first.secrets_dir / ".kiosk-1.password.4242.0badf00d"
    litter.write_text("left by a cut\n")
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "broker", "--config", str(DEMO_SITE),
                          "--dir", str(tmp_path / "b"), "--no-run"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr, out.stderr
    for f in (broken, nul):
        assert f"{f} held no usable password" in out.stdout
        assert len(f.read_text().strip()) == 24 and f.stat().st_mode & 0o777 == 0o600
    assert "counter-3.password" not in out.stdout and not litter.exists()
    broker = Broker(tmp_path / "b", cfg).start()
    try:
        assert broker.password("core") == kept           # the others are kept
        assert not connack(broker, "counter-1", broker.password("counter-1")).is_failure
        assert not connack(broker, "core", kept).is_failure
    finally:
        broker.stop()
    shutil.rmtree(tmp_path / "b")
