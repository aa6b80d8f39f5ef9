"""A terminal stream made fit for a log file: no ANSI codes (docker-compose colours its
prefixes), and a line redrawn with carriage returns (a progress bar) kept in its last state."""

from __future__ import annotations

import re
import sys

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
    """A text stream that writes to the terminal and, cleaned, to a log file. The terminal gets
    the text as it is when it is one (bars move, colours show), else the clean lines too."""

    def __init__(self, sink, stream=None):
        self.sink, self.stream = sink, stream or sys.stdout
        self.raw = self.stream.isatty()
        self.lines = CleanLines()

    def write(self, text: str) -> int:
        clean = self.lines.feed(text)
        self.sink.write(clean)
        self.stream.write(text if self.raw else clean)
        return len(text)

    def flush(self) -> None:
        self.sink.flush()
        self.stream.flush()

    def close(self) -> None:
        """Write out a last line that never ended."""
        rest = self.lines.flush()
        self.sink.write(rest)
        if not self.raw:
            self.stream.write(rest)
        self.flush()
