"""Progress bars that also read well in a log file.

tqdm redraws its bar in place with carriage returns. On a terminal that is one live
line; redirected to a file (``nas-gym bench ... 2> log``, a batch scheduler's output)
every redraw lands on the same physical line, and a three-hour bench leaves one line
of nearly a megabyte. :func:`progress_bar` keeps tqdm on terminals and in notebooks,
and elsewhere writes each redraw as its own line, at most one per
:data:`LOG_EVERY_S` seconds, always including the first and the last.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import IO, Any

from tqdm.auto import tqdm as auto_tqdm
from tqdm.std import TqdmExperimentalWarning
from tqdm.std import tqdm as std_tqdm

with warnings.catch_warnings():  # as tqdm.auto does: the notebook bar, or std outside one
    warnings.simplefilter("ignore", category=TqdmExperimentalWarning)
    from tqdm.autonotebook import tqdm as notebook_or_std_tqdm

#: tqdm.auto chose the notebook widget (it draws no carriage returns to redirect).
IN_NOTEBOOK = notebook_or_std_tqdm is not std_tqdm

#: Seconds between two progress lines when the output is not a terminal.
LOG_EVERY_S = 30.0


class LineLog:
    """A file for tqdm that turns its in-place redraws into whole lines, throttled.

    tqdm writes ``"\\r" + text + padding``; the text becomes a line when at least
    ``every_s`` seconds have passed since the last line, else it is held and written
    by :meth:`finish` unless a newer one replaced it.
    """

    def __init__(self, fp: IO[str], every_s: float) -> None:
        self.fp = fp
        self.every_s = every_s
        self.last_s: float | None = None
        self.last: str | None = None
        self.held: str | None = None

    def write(self, s: str) -> None:
        text = s.replace("\r", "").strip()
        if not text:  # tqdm's padding, clearing and closing newline
            return
        now = time.monotonic()
        if self.last_s is not None and now - self.last_s < self.every_s:
            self.held = text
            return
        self._emit(text, now)

    def flush(self) -> None:
        self.fp.flush()

    def finish(self) -> None:
        """Write the held redraw (the bar's final state) if it is not the last line."""
        if self.held is not None and self.held != self.last:
            self._emit(self.held, time.monotonic())
        self.held = None

    def _emit(self, text: str, now: float) -> None:
        self.fp.write(text + "\n")
        self.fp.flush()
        self.last, self.last_s, self.held = text, now, None


class _LoggedTqdm(std_tqdm):
    """tqdm writing through a :class:`LineLog`; closing writes the final state."""

    def __init__(self, iterable: Any, line_log: LineLog, **kwargs: Any) -> None:
        self.line_log = line_log
        super().__init__(iterable, file=line_log, **kwargs)

    def close(self) -> None:
        super().close()
        self.line_log.finish()


def progress_bar(iterable: Any = None, *, file: IO[str] | None = None, **kwargs: Any) -> std_tqdm:
    """A tqdm bar over ``iterable`` (``tqdm.auto``'s keyword arguments) on ``file``
    (default stderr).

    A terminal or notebook gets the usual bar; any other output gets one line per
    :data:`LOG_EVERY_S` seconds (:class:`LineLog`), so logs stay readable.
    """
    fp = sys.stderr if file is None else file
    isatty = getattr(fp, "isatty", None)
    if IN_NOTEBOOK or (callable(isatty) and isatty()) or kwargs.get("disable"):
        return auto_tqdm(iterable, file=file, **kwargs)
    return _LoggedTqdm(iterable, LineLog(fp, LOG_EVERY_S), **kwargs)
