"""The `context` the model server hands to hooks that take one more argument (MMS and
TorchServe's `Context`): the model's folder, and the request's headers and response settings.

One object for the model's life, its request updated before each request, as MMS does. So a
hook reads `X-Amzn-SageMaker-Custom-Attributes` with `context.get_request_header(0, name)` and
sends one back with `context.set_response_header(0, name, value)`."""

from __future__ import annotations


class RequestProcessor:
    def __init__(self, headers: dict[str, str]):
        self._request_header = headers
        self._status_code = 200
        self._reason_phrase = ""
        self._response_header: dict[str, str] = {}

    def get_request_properties(self) -> dict[str, str]:
        """The request's headers, keyed as received."""
        return self._request_header

    def get_request_property(self, key: str) -> str | None:
        lowered = key.lower()  # lenient: how SageMaker spells forwarded names is not specified
        return next((v for k, v in self._request_header.items() if k.lower() == lowered), None)

    def report_status(self, code: int, reason_phrase: str | None = None) -> None:
        self._status_code, self._reason_phrase = code, reason_phrase or ""

    def get_response_status_code(self) -> int:
        return self._status_code

    def get_response_status_phrase(self) -> str:
        return self._reason_phrase

    def add_response_property(self, key: str, value: str) -> None:
        self._response_header[key] = value

    def get_response_headers(self) -> dict[str, str]:
        return self._response_header


class Context:
    def __init__(self, model_dir: str, gpu_id: int | None):
        self.model_name = "model"
        self.manifest = {"model": {"modelName": "model"}}
        self.system_properties = {"model_dir": model_dir, "gpu_id": gpu_id, "batch_size": 1,
                                  "server_name": "harness"}
        self.request_processor = [RequestProcessor({})]

    def begin(self, headers: dict[str, str]) -> RequestProcessor:
        """Point the context at a new request."""
        self.request_processor = [RequestProcessor(headers)]
        return self.request_processor[0]

    def get_request_header(self, idx: int, key: str) -> str | None:
        return self.request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        return self.request_processor[idx].get_request_properties()

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.request_processor[idx].add_response_property(key, value)

    def get_response_headers(self, idx: int) -> dict[str, str]:
        return self.request_processor[idx].get_response_headers()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.set_response_header(idx, "Content-Type", value)

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.request_processor[idx].report_status(code, phrase)

    def get_response_status(self, idx: int) -> tuple[int, str]:
        processor = self.request_processor[idx]
        return processor.get_response_status_code(), processor.get_response_status_phrase()
