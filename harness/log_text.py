"""A terminal stream made fit for a log file: no ANSI codes (docker-compose colours its
prefixes), and a line redrawn with carriage returns (a progress bar) kept in its last state."""

from __future__ import annotations

import re
import sys
from collections import deque

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class CleanLines:
    """Feed it text as it comes; it gives back whole, clean lines."""

    def __init__(self):
        self.partial = ""

    def feed(self, text: str) -> str:
        *lines, partial = (self.partial + text).split("\n")
        # Of a line still being redrawn, only its latest state matters.
        redrawn = partial.rfind("\r", 0, len(partial) - 1)  # a final "\r" may start a "\r\n"
        self.partial = partial[redrawn:] if redrawn >= 0 else partial
        return "".join(f"{line}\n" for line in map(self._clean, lines) if line is not None)

    def flush(self) -> str:
        last, self.partial = self._clean(self.partial), ""
        return f"{last}\n" if last else ""

    @staticmethod
    def _clean(line: str) -> str | None:
        """The line as it last stood on the screen, without escape codes; None for a line that
        was only a progress bar cleared away."""
        line = ANSI.sub("", line)
        if "\r" not in line.rstrip("\r"):
            return line.rstrip("\r")
        shown = line.rstrip("\r").rsplit("\r", 1)[-1]
        return shown if shown.strip() else None


class Tee:
    """A text stream that writes to the terminal and, cleaned, to a log file, and keeps the last
    lines (`tail`). The terminal gets the text as it is when it is one (bars move, colours
    show), else the clean lines too. A log file that cannot be written (a full disk) stops
    being written; the terminal and the tail go on, so the job's own error still shows."""

    def __init__(self, sink, stream=None, keep: int = 40):
        self.sink, self.stream = sink, stream or sys.stdout
        self.raw = self.stream.isatty()
        self.lines = CleanLines()
        self.last = deque(maxlen=keep)
        self.sink_error: OSError | None = None

    @property
    def tail(self) -> str:
        return "".join(self.last)

    def write(self, text: str) -> int:
        self._out(self.lines.feed(text), text)
        return len(text)

    def _out(self, clean: str, raw: str) -> None:
        self.last.extend(clean.splitlines(keepends=True))
        if self.sink_error is None:
            try:
                self.sink.write(clean)
            except OSError as e:
                self.sink_error = e
        self.stream.write(raw if self.raw else clean)

    def flush(self) -> None:
        if self.sink_error is None:
            try:
                self.sink.flush()
            except OSError as e:
                self.sink_error = e
        self.stream.flush()

    def close(self) -> None:
        """Write out a last line that never ended."""
        rest = self.lines.flush()
        self._out(rest, "" if self.raw else rest)
        self.flush()
