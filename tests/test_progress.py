"""nas_gym.progress: tqdm on a terminal, throttled whole lines in a log file."""

from __future__ import annotations

import io

import pytest

import nas_gym.progress as progress

FORMAT = "{desc}: {n_fmt}/{total_fmt} done{postfix}"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progress, "time", fake)
    return fake


def run_bar(out: io.StringIO, clock: Clock, steps: int, dt: float, **kwargs) -> None:
    bar = progress.progress_bar(file=out, total=steps, desc="job", bar_format=FORMAT, **kwargs)
    for i in range(steps):
        clock.now += dt
        bar.set_postfix_str(f"step {i + 1}", refresh=True)
        bar.update(1)
    bar.close()


def test_a_log_gets_one_line_per_interval_plus_the_first_and_the_last(clock):
    """10 steps 10 s apart with a 30 s interval: lines at 0, 30, 60, 90 s and the end."""
    out = io.StringIO()
    run_bar(out, clock, steps=10, dt=10.0)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "job: 0/10 done"
    assert lines[-1] == "job: 10/10 done, step 10"
    assert [line.split(",")[0] for line in lines] == [
        "job: 0/10 done",
        "job: 2/10 done",  # 30 s: drawn with step 3's postfix, before its update
        "job: 5/10 done",
        "job: 8/10 done",
        "job: 10/10 done",
    ]


def test_a_bar_closed_without_redraw_writes_no_duplicate_last_line(clock):
    out = io.StringIO()
    run_bar(out, clock, steps=3, dt=40.0)  # every redraw is 40 s after the last line
    lines = out.getvalue().splitlines()
    assert len(lines) == len(set(lines)) and lines[-1] == "job: 3/3 done, step 3"


def test_a_terminal_keeps_the_in_place_bar(clock):
    out = Terminal()
    run_bar(out, clock, steps=3, dt=1.0)
    assert "\r" in out.getvalue()  # tqdm's redraws, not throttled lines


def test_a_disabled_bar_writes_nothing(clock):
    out = io.StringIO()
    run_bar(out, clock, steps=3, dt=100.0, disable=True)
    assert out.getvalue() == ""


def test_an_iterable_is_passed_through(clock):
    out = io.StringIO()
    assert list(progress.progress_bar(range(4), file=out, desc="it")) == [0, 1, 2, 3]
    assert out.getvalue().splitlines()[-1].startswith("it: 100%")
