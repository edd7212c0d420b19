"""Helpers for the scale benchmarks: cold subprocesses with wall time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def byte_compile() -> None:
    """Write the .pyc files a user's install has (this machine sets PYTHONDONTWRITEBYTECODE).

    ``compileall`` writes them whatever that variable says; later imports read them.
    """
    import sysconfig

    for d in (ROOT / "gisfix", Path(sysconfig.get_paths()["purelib"])):
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "2", str(d)],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(args, env=None) -> tuple[float, float, str]:
    """Run ``args`` in a fresh process; return (wall seconds, peak RSS in MB, stdout)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t = time.perf_counter()
        p = subprocess.Popen(args, stdout=fo, stderr=fe, text=True,
                             env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(p.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def python(code: str, *argv) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter (``/usr/bin/time`` style peak RSS in MB)."""
    wrapper = (
        "import resource, sys, time\n"
        "_t = time.perf_counter()\n"
        f"exec(compile({code!r}, '<bench>', 'exec'))\n"
        "print('__WALL__', time.perf_counter() - _t)\n"
        "print('__RSS_MB__', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    wall, _, out = run([sys.executable, "-c", wrapper, *map(str, argv)])
    vals = dict(line.split()[:2] for line in out.splitlines() if line.startswith("__"))
    body = "\n".join(line for line in out.splitlines() if not line.startswith("__"))
    return float(vals["__WALL__"]), float(vals["__RSS_MB__"]), body
