"""Metrics read from a training log with the estimator's `metric_definitions`, as SageMaker
reads them from a job's CloudWatch log: on each line, each definition's regex is searched, and
its first group, read as a number, is the metric's next value. SDK local mode does none of
this; harness does it in every mode it runs the job in."""

from __future__ import annotations

import re

from harness.config import MetricDefinition

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes in container logs


def series(definitions: list[MetricDefinition], log: str) -> dict[str, list[float]]:
    """Each metric's values, in the order the log printed them."""
    compiled = [(d.Name, re.compile(d.Regex)) for d in definitions]
    found: dict[str, list[float]] = {name: [] for name, _ in compiled}
    for line in ANSI.sub("", log).splitlines():
        for name, regex in compiled:
            match = regex.search(line)
            if match:
                try:
                    found[name].append(float(match.group(1)))
                except (TypeError, ValueError):  # not a number: SageMaker skips it too
                    pass
    return found


def last_values(found: dict[str, list[float]]) -> dict[str, float]:
    """The final value of each metric that appeared at all."""
    return {name: values[-1] for name, values in found.items() if values}
