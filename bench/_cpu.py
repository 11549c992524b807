"""CPU from /proc, and the paired median: the figures a shared machine cannot blur.

Wall time on a busy 2-core machine measures the neighbours as much as the code; CPU time
charged to a process does not grow because another process wanted the core. Both sides of a
benchmark are measured the same way: the kernel's utime + stime of the process, plus cutime +
cstime (the children it has waited for), plus every live descendant's own.
"""

import os
import statistics
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _times(stat: str) -> int:
    """utime + stime + cutime + cstime in ticks, from one /proc/<pid>/stat line. The command
    name may hold spaces or brackets, so the fields are counted after its last ')'."""
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15])


def own_cpu() -> float:
    """CPU seconds of this process, its waited-for children included."""
    return _times(Path("/proc/self/stat").read_text()) / TICK


def cpu_seconds(root_pid: int) -> float:
    """CPU of a process and every descendant, ended ones included (/proc, children too)."""
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        times[int(entry.name)] = _times(stat)
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(pid, 0) for pid in tree) / TICK


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy, every process of every user (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def paired_median(tether: list[float], floor: list[float]) -> tuple[float, list[float]]:
    """The median over rounds of tether[i] / floor[i], and the ratios themselves. Each round's
    two sides met the same machine within seconds of each other; the best of each side would
    pair Tether's luckiest round with the floor's, which need not be the same moment."""
    if len(tether) != len(floor) or not tether:
        raise ValueError("one figure per side per round, at least one round")
    ratios = [t / f for t, f in zip(tether, floor, strict=True)]
    return statistics.median(ratios), ratios


def per_item_ms(seconds: float, items: int) -> float:
    return seconds * 1000 / items if items else float("nan")


def server_pids(*names: str) -> list[int]:
    """The root process of each local server named (a postmaster, a redis-server): their
    trees hold every backend, ended ones included through the parent's cutime/cstime."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat.split("(", 1)[1].rsplit(")", 1)[0]
            if name in names:
                found[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return [pid for pid, parent in found.items() if parent not in found]


def tree_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


class Meter:
    """CPU seconds by source for one side's run: its own process(es), the sandbox both sides
    talk to, and the local database and queue servers (whole servers: a neighbour's queries
    count too, which is why the floor, that uses neither, shows the neighbours' share)."""

    def __init__(self, sandbox_pid: int, servers: list[int]):
        self.sources = {"sandbox": lambda: cpu_seconds(sandbox_pid),
                        "servers": lambda: tree_cpu(servers)}

    def read(self, own) -> dict[str, float]:
        return {"own": own(), **{name: read() for name, read in self.sources.items()}}

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        return {name: after[name] - before[name] for name in before}
