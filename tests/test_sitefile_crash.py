"""A power cut at each step of a site-file save.

``store_sitefile.write`` runs in a child process that SIGKILLs itself just
before its k-th call to link, rename, unlink or fsync, for every k up to
the save's last one, so no moment is left to a timer's luck (CI found the
moment between the two renames only once in many runs).  After each cut
the file must be whole and either the old or the new config; the core's
start-up clean and the next save must then leave the file and its
``.prev`` and nothing else.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

from kiosk.core import store_sitefile as sitefile
from tests.conftest import DEMO_SITE, ROOT

# The child: counts the calls that change the directory or make it durable,
# and dies at the k-th one as a power cut would, with no cleanup.
CHILD = r"""
import os, signal, sys
from kiosk.core import store_sitefile as sitefile
target, text_file, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
sitefile.write(target, open(text_file, encoding="utf-8").read())
print(calls)
"""


def save_in_child(target, text, k, tmp_path):
    text_file = tmp_path / "new-text"
    text_file.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-c", CHILD, str(target), str(text_file), str(k)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def config_with(name: str, version: int) -> str:
    data = tomllib.loads(DEMO_SITE.read_text(encoding="utf-8"))
    data["counters"][0]["name"] = name
    return sitefile.render(data, version=version, by="qt01", at=0.0)


def first_name(path) -> str:
    return tomllib.loads(path.read_text(encoding="utf-8"))["counters"][0]["name"]


def steps(tmp_path) -> int:
    """How many counted calls a whole save makes (a save over a file with a .prev)."""
    d = tmp_path / "count"
    d.mkdir()
    shutil.copy(DEMO_SITE, d / "site.toml")
    sitefile.write(d / "site.toml", config_with("Quầy không", 2))
    done = save_in_child(d / "site.toml", config_with("Quầy một", 3), 0, tmp_path)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_a_cut_at_every_step_of_a_save_leaves_a_whole_file_and_no_litter(tmp_path):
    n = steps(tmp_path)
    assert n >= 5   # fsync, link, two renames, the directory's fsync
    for k in range(1, n + 1):
        d = tmp_path / f"cut{k}"
        d.mkdir()
        site = d / "site.toml"
        site.write_text(config_with("Quầy cũ", 2), encoding="utf-8")
        (d / "site.toml.prev").write_text(config_with("Quầy trước", 1), encoding="utf-8")
        cut = save_in_child(site, config_with("Quầy mới", 3), k, tmp_path)
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

