"""The benchmarks' arithmetic on known numbers (no benchmark runs here): the paired median,
and CPU read from /proc for a process, its children and a line with an awkward name."""

import importlib.util
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_cpu", Path(__file__).resolve().parent.parent / "bench" / "_cpu.py")
cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cpu)


def test_paired_median_pairs_rounds_instead_of_best_of_each():
    tether, floor = [6.0, 6.0, 4.0], [3.0, 4.0, 3.5]  # Tether's luckiest round is the third
    median, ratios = cpu.paired_median(tether, floor)
    assert ratios == pytest.approx([2.0, 1.5, 4 / 3.5])
    assert median == pytest.approx(1.5)
    assert min(tether) / min(floor) == pytest.approx(4 / 3)  # what best-of-each claimed


def test_paired_median_refuses_unpaired_figures():
    with pytest.raises(ValueError):
        cpu.paired_median([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        cpu.paired_median([], [])


def test_a_stat_line_is_read_after_the_last_bracket():
    fields = ["S"] + ["0"] * 10 + ["100", "20", "3", "4"] + ["0"] * 30
    line = "42 (odd) name (x)) " + " ".join(fields)
    assert cpu._times(line) == 127


def test_cpu_of_a_process_counts_its_children():
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.process_time() + 0.3\n"
                              "while time.process_time() < end: pass\ninput()"],
                             stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while cpu.cpu_seconds(child.pid) < 0.25:  # its own CPU, read from /proc
            assert time.monotonic() < deadline, "the child's CPU never showed in /proc"
            time.sleep(0.05)
        before = cpu.own_cpu()
        child.communicate(b"\n", timeout=20)  # waited for: now in our cutime
        assert cpu.own_cpu() - before >= 0.25
    finally:
        child.kill()
        child.wait()


def test_per_item_is_milliseconds_and_survives_none():
    assert cpu.per_item_ms(0.5, 100) == 5.0
    assert math.isnan(cpu.per_item_ms(0.5, 0))  # nothing to divide by: no figure, no crash
