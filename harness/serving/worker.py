"""The one thread that runs the model (pipelines are not thread-safe). Requests queue up for
it; with the default handler of a text classifier, the requests waiting are answered by one
batched pipeline call (micro-batching), which is several times faster on CPU than one call
each. A streamed reply's parts are produced on this thread too, one request at a time."""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import Future
from typing import Any

from harness.serving.content import Reply, to_bytes
from harness.serving.handler import Handler, Request
from harness.serving.huggingface import parse_request


class Stream:
    """A streamed reply's parts, as bytes, while the model thread produces them."""

    _END = object()

    def __init__(self):
        self._parts: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = threading.Event()

    def next(self, timeout_s: float) -> bytes | None:
        """The next part; None at the end. Raises what the handler raised, or TimeoutError."""
        try:
            part = self._parts.get(timeout=max(timeout_s, 0))
        except queue.Empty:
            raise TimeoutError from None
        if part is self._END:
            return None
        if isinstance(part, Exception):
            raise part
        return part

    def close(self) -> None:
        """The reader is gone: the model thread stops asking for parts."""
        self._closed.set()

    def produce(self, parts) -> None:
        try:
            for part in parts:
                if self._closed.is_set():
                    break
                self._parts.put(to_bytes(part))
        except Exception as e:  # a failing handler: the reader gets the error
            self._parts.put(e)
        else:
            self._parts.put(self._END)
        finally:
            getattr(parts, "close", lambda: None)()


class ModelWorker:
    def __init__(self, handler: Handler):
        self.handler = handler
        self.jobs: queue.SimpleQueue[tuple[Future, Request] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="model", daemon=True)
        self.thread.start()

    def submit(self, request: Request) -> Future:
        """A future for the Reply (a streamed one has a `Stream` as its parts); cancelling it
        before it runs skips the request."""
        future: Future = Future()
        self.jobs.put((future, request))
        return future

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            for (future, _), reply in zip(batch, answer(self.handler, [r for _, r in batch]), strict=False):
                if reply.parts is None:
                    future.set_result(reply)
                    continue
                stream = Stream()
                parts, reply.parts = reply.parts, stream
                future.set_result(reply)
                stream.produce(parts)

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
        return [job for job in batch if job is not None and job[0].set_running_or_notify_cancel()]


def answer(handler: Handler, requests: list[Request]) -> list[Reply]:
    """One reply per request, batched where the handler allows it."""
    if not handler.batchable or len(requests) == 1:
        return [handler(request) for request in requests]
    replies: list[Any] = [None] * len(requests)
    groups: dict[str, list[tuple[int, str | list[str]]]] = {}
    for i, request in enumerate(requests):
        try:
            inputs, parameters = parse_request(handler.decode(request))
        except Exception as e:
            replies[i] = handler.error(e)
            continue
        groups.setdefault(json.dumps(parameters, sort_keys=True), []).append((i, inputs))
    for key, members in groups.items():
        texts = [t for _, inputs in members for t in ([inputs] if isinstance(inputs, str) else inputs)]
        try:
            results = handler.model(texts, batch_size=min(len(texts), handler.max_batch_size),
                                    **json.loads(key))
        except Exception:  # one bad request: answer each alone, so only it fails
            for i, _ in members:
                replies[i] = handler(requests[i])
            continue
        parameters, start = json.loads(key), 0
        for i, inputs in members:
            if isinstance(inputs, str):  # pipeline(str) wraps its result in a list unless the
                # call names top_k (transformers' legacy rule)
                prediction = results[start] if "top_k" in parameters else [results[start]]
                start += 1
            else:
                prediction = results[start:start + len(inputs)]
                start += len(inputs)
            replies[i] = handler.finish(prediction, requests[i])
    return replies
