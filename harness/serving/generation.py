"""Text generation as the LLM serving containers answer it, with transformers' `generate`:
- the TGI / Hugging Face toolkit request `{"inputs": str, "parameters": {...}}` ->
  `[{"generated_text": ...}]`;
- the Messages API that the TGI and vLLM DLCs take on `/invocations` (an OpenAI chat
  completions request) -> a `chat.completion`;
- with `"stream": true`, server-sent events, one `data: {...}` line per token (TGI's
  `StreamedToken`, or OpenAI's `chat.completion.chunk` ending with `data: [DONE]`).
A stream's generator, closed when its client goes away, stops the generation.
Bad parameters are answered 422, with TGI's wording."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.serving.content import BadRequest

TASK = "text-generation"
SSE = "text/event-stream"
DEFAULT_MAX_NEW_TOKENS = 100  # TGI's default
MAX_STOP_SEQUENCES = 4  # TGI's default limit
INVALID = 422  # TGI answers a request it cannot validate 422 Unprocessable Entity
TGI_PARAMETERS = ("max_new_tokens", "temperature", "top_p", "top_k", "do_sample", "stop",
                  "return_full_text", "seed", "repetition_penalty")
CHAT_KEYS = ("messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p",
             "stream", "stop", "seed", "n")


@dataclass
class Settings:
    """One request's generation settings, checked."""

    max_new_tokens: int | None = None  # None: DEFAULT_MAX_NEW_TOKENS, within the model's limit
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    do_sample: bool = False
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    repetition_penalty: float | None = None

    @property
    def sampling(self) -> bool:
        """TGI samples when asked, or when a sampling parameter other than 1 is given."""
        return self.do_sample or any(value is not None for value in (self.top_k, self.top_p)) \
            or (self.temperature is not None and self.temperature != 1.0)


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (kind is int and not float(value).is_integer()):
        raise BadRequest(f"`{name}` must be {'an integer' if kind is int else 'a number'}, "
                         f"not {json.dumps(value)}", INVALID)
    return kind(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"`{name}` must be true or false, not {json.dumps(value)}", INVALID)
    return value


def settings(given: dict[str, Any], names: dict[str, str] | None = None) -> Settings:
    """Settings from request keys (`names` maps a request's key to a Settings field)."""
    names = names or {}
    values = {names.get(key, key): value for key, value in given.items() if value is not None}
    result = Settings()
    if "max_new_tokens" in values:
        result.max_new_tokens = _number("max_new_tokens", values["max_new_tokens"], int)
        if result.max_new_tokens <= 0:
            raise BadRequest("`max_new_tokens` must be strictly positive", INVALID)
    if "temperature" in values:
        result.temperature = _number("temperature", values["temperature"], float)
        if result.temperature <= 0:
            raise BadRequest("`temperature` must be strictly positive (for greedy decoding, "
                             "leave do_sample false)", INVALID)
    if "top_p" in values:
        result.top_p = _number("top_p", values["top_p"], float)
        if not 0 < result.top_p <= 1:
            raise BadRequest("`top_p` must be > 0.0 and <= 1.0", INVALID)
    if "top_k" in values:
        result.top_k = _number("top_k", values["top_k"], int)
        if result.top_k <= 0:
            raise BadRequest("`top_k` must be strictly positive", INVALID)
    if "repetition_penalty" in values:
        result.repetition_penalty = _number("repetition_penalty", values["repetition_penalty"],
                                            float)
        if result.repetition_penalty <= 0:
            raise BadRequest("`repetition_penalty` must be strictly positive", INVALID)
    if "seed" in values:
        result.seed = _number("seed", values["seed"], int)
        if result.seed < 0:
            raise BadRequest("`seed` must be a non-negative integer", INVALID)
    if "do_sample" in values:
        result.do_sample = _flag("do_sample", values["do_sample"])
    stop = values.get("stop", [])
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise BadRequest("`stop` must be a string or a list of non-empty strings", INVALID)
    if len(stop) > MAX_STOP_SEQUENCES:
        raise BadRequest(f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: "
                         f"{len(stop)}", INVALID)
    result.stop = stop
    return result


class _Tokens:
    """A `generate` streamer: the new token ids, one at a time, in a queue."""

    def __init__(self):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate puts the prompt first
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.queue.put(token)

    def end(self) -> None:
        self.queue.put(None)


@dataclass
class Generation:
    """The tokens of one generation as they come, with their text and why it ended."""

    pipeline: Any
    prompt_ids: list[int]
    settings: Settings
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str = "length"

    @property
    def tokenizer(self):
        return self.pipeline.tokenizer

    def max_new_tokens(self) -> int:
        model = self.pipeline.model
        limit = getattr(model.config, "max_position_embeddings", None) or \
            self.tokenizer.model_max_length
        room = limit - len(self.prompt_ids)
        if room <= 0:
            raise BadRequest(f"the input is {len(self.prompt_ids)} tokens; the model takes at "
                             f"most {limit} in all. Shorten the input", INVALID)
        wanted = self.settings.max_new_tokens
        if wanted is not None and wanted > room:
            raise BadRequest(f"`inputs` tokens + `max_new_tokens` must be <= {limit}. Given: "
                             f"{len(self.prompt_ids)} `inputs` tokens and {wanted} "
                             "`max_new_tokens`", INVALID)
        return wanted or min(DEFAULT_MAX_NEW_TOKENS, room)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """Each new token's id and the text it adds; stops the generation when closed."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tokenizer, model, cut = self.tokenizer, self.pipeline.model, threading.Event()
        stops = self.settings.stop

        class Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cut.is_set(), dtype=torch.bool,
                                  device=input_ids.device)

        s = self.settings
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens(), "do_sample": s.sampling,
                  **({"temperature": s.temperature} if s.temperature is not None else {}),
                  **({"top_p": s.top_p} if s.top_p is not None else {}),
                  **({"top_k": s.top_k} if s.top_k is not None else {}),
                  **({"repetition_penalty": s.repetition_penalty}
                     if s.repetition_penalty is not None else {})}
        if not s.sampling:  # the model's generation_config may name sampling defaults
            kwargs.update(temperature=None, top_p=None, top_k=None)
        streamer, failure = _Tokens(), []

        def run() -> None:
            try:
                if s.seed is not None:
                    torch.manual_seed(s.seed)
                ids = torch.tensor([self.prompt_ids], device=model.device)
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                               streamer=streamer, pad_token_id=tokenizer.pad_token_id
                               if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
                               stopping_criteria=StoppingCriteriaList([Stop()]), **kwargs)
            except Exception as e:  # noqa: BLE001 - raised again on the reader's side
                failure.append(e)
            finally:
                streamer.end()

        thread = threading.Thread(target=run, name="generate", daemon=True)
        thread.start()
        eos = _eos_ids(model, tokenizer)
        try:
            while (token := streamer.queue.get()) is not None:
                if token in eos:
                    self.finish_reason = "stop"
                    break
                self.token_ids.append(token)
                text = tokenizer.decode(self.token_ids, skip_special_tokens=True)
                piece, self.text = text[len(self.text):], text
                yield token, piece
                if any(stop in self.text for stop in stops):
                    self.finish_reason = "stop_sequence"
                    break
            if failure:
                raise failure[0]
        finally:
            cut.set()
            thread.join()


def _eos_ids(model, tokenizer) -> set[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    eos = eos if isinstance(eos, list) else [eos]
    return {i for i in (*eos, tokenizer.eos_token_id) if i is not None}


def _tgi_finish(reason: str) -> str:
    return {"stop": "eos_token"}.get(reason, reason)


def _sse(event: Any) -> bytes:
    return f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode()


def predict(data: Any, pipeline) -> Any:
    """The reply to a generation request: a JSON value, or an iterator of SSE lines."""
    if not isinstance(data, dict):
        raise BadRequest('expected a JSON object: {"inputs": "...", "parameters": {...}} or '
                         '{"messages": [...]}')
    if "messages" in data:
        return _chat(data, pipeline)
    if "inputs" not in data:
        raise BadRequest('expected "inputs" (a prompt) or "messages" (a chat) in the request')
    return _tgi(data, pipeline)


def _tgi(data: dict, pipeline) -> Any:
    """One prompt -> `[{"generated_text"}]`; a list of prompts, as the toolkit's pipeline
    answers it, -> one such list per prompt."""
    prompts, parameters = data["inputs"], data.get("parameters") or {}
    stream = _flag("stream", data.get("stream", False))
    if isinstance(prompts, list) and prompts and not stream:
        return [_tgi({**data, "inputs": prompt}, pipeline) for prompt in prompts]
    if not isinstance(prompts, str) or not prompts:
        raise BadRequest('"inputs" must be a non-empty string (a stream takes one prompt), or '
                         "a list of them", INVALID)
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be a JSON object', INVALID)
    unknown = sorted(set(parameters) - set(TGI_PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown generation parameters: {', '.join(unknown)}; supported: "
                         f"{', '.join(TGI_PARAMETERS)}", INVALID)
    full_text = _flag("return_full_text", parameters.get("return_full_text", False))
    generation = Generation(pipeline, pipeline.tokenizer(prompts)["input_ids"],
                            settings(parameters))
    generation.max_new_tokens()  # checked before anything is sent
    prefix = prompts if full_text else ""
    if not stream:
        for _ in generation:
            pass
        return [{"generated_text": prefix + generation.text}]
    return _tgi_events(generation, prefix)


def _tgi_events(generation: Generation, prefix: str) -> Iterator[bytes]:
    """TGI's `/generate_stream` events: a StreamedToken per token; the last carries the whole
    text and the details."""
    special = set(generation.tokenizer.all_special_ids)
    pending = None
    for index, (token, piece) in enumerate(generation, start=1):
        if pending:
            yield _sse(pending)
        pending = {"index": index, "token": {"id": token, "text": piece, "logprob": None,
                                             "special": token in special},
                   "generated_text": None, "details": None}
    final = pending or {"index": 0, "token": None, "generated_text": None, "details": None}
    final["generated_text"] = prefix + generation.text
    final["details"] = {"finish_reason": _tgi_finish(generation.finish_reason),
                        "generated_tokens": len(generation.token_ids),
                        "seed": generation.settings.seed}
    yield _sse(final)


def _chat(data: dict, pipeline) -> Any:
    unknown = sorted(set(data) - set(CHAT_KEYS))
    if unknown:
        raise BadRequest(f"unknown chat completion fields: {', '.join(unknown)}; supported: "
                         f"{', '.join(CHAT_KEYS)}", INVALID)
    messages = data["messages"]
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str) for m in messages):
        raise BadRequest('"messages" must be a non-empty list of {"role": ..., "content": '
                         "text} objects", INVALID)
    if data.get("n", 1) != 1:
        raise BadRequest("`n` must be 1: one choice per request", INVALID)
    tokenizer = pipeline.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise BadRequest("this model's tokenizer has no chat template, so it cannot take "
                         '"messages"; send {"inputs": "...", "parameters": {...}} instead', INVALID)
    options = {key: data[key] for key in ("max_tokens", "max_completion_tokens", "temperature",
                                          "top_p", "stop", "seed") if key in data}
    chosen = settings(options, {"max_tokens": "max_new_tokens",
                                "max_completion_tokens": "max_new_tokens"})
    prompt_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                               tokenize=True, return_dict=True)["input_ids"]
    generation = Generation(pipeline, list(prompt_ids), chosen)
    generation.max_new_tokens()
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()),
            "model": data.get("model") or pipeline.model.config.name_or_path or "model"}
    if _flag("stream", data.get("stream", False)):
        return _chat_events(generation, head)
    for _ in generation:
        pass
    return {**head, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": generation.text},
                         "logprobs": None, "finish_reason": _chat_finish(generation)}],
            "usage": _usage(generation)}


def _chat_finish(generation: Generation) -> str:
    return "length" if generation.finish_reason == "length" else "stop"


def _usage(generation: Generation) -> dict[str, int]:
    prompt, completion = len(generation.prompt_ids), len(generation.token_ids)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _chat_events(generation: Generation, head: dict) -> Iterator[bytes]:
    """OpenAI's stream: a `chat.completion.chunk` per token (the first names the role), a last
    one with the finish reason and usage, then `[DONE]`."""
    chunk = {**head, "object": "chat.completion.chunk"}
    delta: dict[str, str] = {"role": "assistant"}
    for _, piece in generation:
        yield _sse({**chunk, "choices": [{"index": 0, "delta": {**delta, "content": piece},
                                          "logprobs": None, "finish_reason": None}]})
        delta = {}
    yield _sse({**chunk, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                      "finish_reason": _chat_finish(generation)}],
                "usage": _usage(generation)})
    yield _sse("[DONE]")
