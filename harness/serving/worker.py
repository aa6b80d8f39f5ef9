"""The one thread that runs the model (pipelines are not thread-safe). Requests queue up for
it; with the default handler of a text classifier, the requests waiting are answered by one
batched pipeline call (micro-batching), which is several times faster on CPU than one call
each."""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import Future
from typing import Any

from harness.serving.handler import (
    BadRequest,
    Handler,
    default_input_fn,
    default_output_fn,
    parse_request,
)

Request = tuple[bytes, str, str]  # body, content type, accept


class ModelWorker:
    def __init__(self, handler: Handler):
        self.handler = handler
        self.jobs: queue.SimpleQueue[tuple[Future, Request] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="model", daemon=True)
        self.thread.start()

    def submit(self, request: Request) -> Future:
        """A future for the response body; cancelling it before it runs skips the request."""
        future = Future()
        self.jobs.put((future, request))
        return future

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            for (future, _), outcome in zip(batch, answer(self.handler, [r for _, r in batch])):
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _next_batch(self) -> list[tuple[Future, Request]] | None:
        """The requests waiting, at most max_batch_size; None once stopped."""
        batch = [self.jobs.get()]
        while len(batch) < self.handler.max_batch_size:
            try:
                batch.append(self.jobs.get_nowait())
            except queue.Empty:
                break
        if None in batch:
            return None
        return [job for job in batch if job[0].set_running_or_notify_cancel()]


def answer(handler: Handler, requests: list[Request]) -> list[bytes | Exception]:
    """One outcome per request, batched where the handler allows it."""
    if not handler.batchable or len(requests) == 1:
        return [_guard(handler, *request) for request in requests]
    outcomes: list[Any] = [None] * len(requests)
    groups: dict[str, list[tuple[int, str | list[str]]]] = {}
    for i, (body, content_type, _) in enumerate(requests):
        try:
            data = handler.check_batch_size(default_input_fn(body, content_type))
            inputs, parameters = parse_request(data)
        except BadRequest as e:
            outcomes[i] = e
            continue
        groups.setdefault(json.dumps(parameters, sort_keys=True), []).append((i, inputs))
    for key, members in groups.items():
        texts = [t for _, inputs in members for t in ([inputs] if isinstance(inputs, str) else inputs)]
        try:
            results = handler.model(texts, batch_size=min(len(texts), handler.max_batch_size),
                                    **json.loads(key))
        except Exception:  # one bad request: answer each alone, so only it fails
            for i, _ in members:
                outcomes[i] = _guard(handler, *requests[i])
            continue
        start = 0
        for i, inputs in members:
            if isinstance(inputs, str):  # as pipeline(str) answers: a list
                prediction = results[start] if isinstance(results[start], list) else [results[start]]
                start += 1
            else:
                prediction = results[start:start + len(inputs)]
                start += len(inputs)
            outcomes[i] = _guard(default_output_fn, prediction, requests[i][2])
    return outcomes


def _guard(fn, *args) -> Any:
    try:
        return fn(*args)
    except Exception as e:
        return e
