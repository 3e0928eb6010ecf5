"""py-spy profiles of one server worker under load: where the time goes, recorded before tuning.

`make bench` with BENCH_PROFILE=1 records one profile per HTTP target into bench/profiles/<name>.txt
(the frames that hold the GIL most, own and inclusive). py-spy samples the live process from outside,
so the figures under profiling are lower than without it: use them for shares, not for speed.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import REPO_ROOT

PROFILES = REPO_ROOT / "bench" / "profiles"
HIDDEN = ("threading.py", "multiprocessing", "click/", "granian/server", "reflex/reflex.py", "utils/exec.py")


def busiest_worker(process_group: int) -> int:
    """The process of the app's group that used the most CPU so far: a server worker after a load run."""
    best, best_ticks = process_group, -1
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == process_group and int(fields[11]) + int(fields[12]) > best_ticks:
            best, best_ticks = int(entry.name), int(fields[11]) + int(fields[12])
    return best


def record(pid: int, seconds: int, name: str, note: str) -> Path:
    """Sample `pid` for `seconds` (GIL holders only) and write the top frames to bench/profiles/<name>.txt."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.NamedTemporaryFile(suffix=".txt") as raw:
        subprocess.run(
            [py_spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "--gil", "--nonblocking",
             "-f", "raw", "-o", raw.name],
            check=True, capture_output=True, timeout=seconds + 60,
        )  # fmt: skip
        lines = Path(raw.name).read_text().splitlines()
    total, own, inclusive, threads = 0, collections.Counter(), collections.Counter(), collections.Counter()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        if not frames:
            continue
        total += int(count)
        threads[frames[0]] += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    out = [f"# {name}: {note}", f"# {total} samples of the GIL holder at 200 Hz over {seconds} s", "", "## own"]
    out += [f"{n / total:6.1%}  {f}" for f, n in own.most_common(25)]
    out += ["", "## by thread (its outermost frame)"]
    out += [f"{n / total:6.1%}  {f}" for f, n in threads.most_common(8)]
    out += ["", "## inclusive"]
    out += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(80) if not any(h in f for h in HIDDEN)]
    PROFILES.mkdir(exist_ok=True)
    path = PROFILES / f"{name}.txt"
    path.write_text("\n".join(out) + "\n")
    return path
