"""What the core pays to start (issue 21): numpy is not imported for
sqlite-utils' sake, and python-escpos' printer database is parsed once and
kept in a private cache directory, not in a new /tmp directory per process.

Real processes, a clean environment each (the cost is paid at import)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def run(code: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={k: v for k, v in {**os.environ, **env}.items()
                              if k not in ("ESCPOS_CAPABILITIES_PICKLE_DIR", "CACHE_DIRECTORY")
                              or k in env}, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_store_imports_no_numpy_and_leaves_it_to_whoever_needs_it(tmp_path):
    said = run("import sys, kiosk.core.store, sqlite_utils.db as d\n"
               "print('numpy' in sys.modules, d.np is None)\n"
               "import numpy\n"
               "print(numpy.zeros(2).sum())", {})
    assert said.splitlines() == ["False True", "0.0"]
    # A process that has numpy already (the reports) keeps sqlite-utils' use of it.
    said = run("import numpy, kiosk.core.store, sqlite_utils.db as d\nprint(d.np is numpy)", {})
    assert said == "True"


def test_the_printer_database_is_parsed_once_into_a_private_cache(tmp_path):
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    tmp.mkdir()
    env = {"XDG_CACHE_HOME": str(cache), "TMPDIR": str(tmp)}
    code = ("import os, time, kiosk.printing\nt = time.perf_counter()\n"
            "import escpos.capabilities\n"
            "print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'], time.perf_counter() - t)")
    where, first = run(code, env).split()
    assert where == str(cache / "phucvu")
    pickles = list((cache / "phucvu").glob("*.capabilities.pickle"))
    assert len(pickles) == 1 and (cache / "phucvu").stat().st_mode & 0o777 == 0o700
    _, second = run(code, env).split()
    assert float(second) < float(first)         # the pickle, not the YAML
    # python-escpos still calls mkdtemp() for its default (an eager
    # argument), but nothing is written there any more: no 70 KB pickle per start.
    assert all(list(d.iterdir()) == [] for d in tmp.iterdir())
    # systemd's CacheDirectory= wins over XDG.
    unit = tmp_path / "unit-cache"
    unit.mkdir(mode=0o700)
    assert run(code, {**env, "CACHE_DIRECTORY": str(unit)}).split()[0] == str(unit)


def test_a_cache_others_may_write_is_not_trusted(tmp_path):
    shared = tmp_path / "cache" / "phucvu"
    shared.mkdir(parents=True)
    shared.chmod(0o777)                         # a pickle here could be anyone's code
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    where = run("import os, kiosk.printing, escpos.capabilities\n"
                "print(os.environ.get('ESCPOS_CAPABILITIES_PICKLE_DIR'))",
                {"XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmp)})
    assert where == "None" and list(shared.iterdir()) == []
    assert [p.name for d in tmp.iterdir() for p in d.iterdir()][0].endswith(".capabilities.pickle")


def test_workers_starting_together_and_a_pickle_cut_short_all_start(tmp_path):
    """The suite's workers after an upgrade, or a power cut while the pickle
    was written: python-escpos writes it in place and reads whatever is
    there.  Six processes at once, then a pickle cut to 100 bytes."""
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    env.pop("CACHE_DIRECTORY", None)
    code = "import kiosk.printing.render, kiosk.printing.decode; print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [o.strip() for o, _ in outs] == ["ok"] * 6, [e for _, e in outs]
    pickle = next((cache / "phucvu").glob("*.capabilities.pickle"))
    pickle.write_bytes(pickle.read_bytes()[:100])
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    assert "could not be read" in out.stderr and "parsing it again" in out.stderr
    assert pickle.stat().st_size > 10_000                  # written whole again
