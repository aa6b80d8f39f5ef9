"""A terminal stream made fit for a log file: no ANSI codes (docker-compose colours its
prefixes), and a line redrawn with carriage returns (a progress bar) kept in its last state."""

from __future__ import annotations

import re
import sys
from collections import deque

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


BAR = re.compile(r"\d+/\d*\s*\[[^\]\r]*\]")  # tqdm's "n/total [elapsed<left, rate]"


class CleanLines:
    """Feed it text as it comes; it gives back whole, clean lines."""

    def __init__(self):
        self.partial = ""

    def feed(self, text: str) -> str:
        *lines, partial = (self.partial + text).split("\n")
        out = [clean for line in lines for clean in self._clean(line)]
        cut = partial.rfind("\r", 0, len(partial) - 1)  # a final "\r" may start a "\r\n"
        if cut >= 0:  # a bar being redrawn: keep its latest state only
            out += self._overwritten(ANSI.sub("", partial[:cut]).split("\r"))
            partial = partial[cut:]
        self.partial = partial
        return "".join(f"{line}\n" for line in out)

    def flush(self) -> str:
        last, self.partial = self._clean(self.partial), ""
        return "".join(f"{line}\n" for line in last if line.strip())

    def _clean(self, line: str) -> list[str]:
        """The line as it last stood on the screen, without escape codes, after any text that
        was not a progress bar but was drawn over (another process's, say)."""
        *earlier, last = ANSI.sub("", line).rstrip("\r").split("\r")
        return [*self._overwritten(earlier), *([last] if last.strip() or not earlier else [])]

    @staticmethod
    def _overwritten(states: list[str]) -> list[str]:
        """Of what a line showed before it was redrawn, the text that was not a bar."""
        rests = [BAR.split(state, 1)[-1] for state in states]  # text glued after a bar
        return [rest for rest in rests if rest.strip()]


class Tee:
    """A text stream that writes to the terminal and, cleaned, to a log file, and keeps the last
    lines (`tail`). The terminal gets the text as it is when it is one (bars move, colours
    show), else the clean lines too. A log file that cannot be written (a full disk) stops
    being written; the terminal and the tail go on, so the job's own error still shows."""

    def __init__(self, sink, stream=None, keep: int = 40):
        self.sink, self.stream = sink, stream or sys.stdout
        self.raw = self.stream.isatty()
        self.lines = CleanLines()
        self.last: deque[str] = deque(maxlen=keep)
        self.sink_error: OSError | None = None

    @property
    def tail(self) -> str:
        return "".join(self.last)

    def isatty(self) -> bool:
        """As the terminal is: writers (the SDK's log colours) may colour; the log is cleaned."""
        return self.raw

    def write(self, text: str) -> int:
        self._out(self.lines.feed(text), text)
        return len(text)

    def _out(self, clean: str, raw: str) -> None:
        self.last.extend(clean.splitlines(keepends=True))
        if self.sink_error is None and clean:
            try:
                self.sink.write(clean)
                self.sink.flush()  # the log reads live, as the terminal does
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
