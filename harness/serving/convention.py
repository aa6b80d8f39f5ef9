"""What a serving toolkit fixes: its default hooks, which user hooks it looks for, how it
passes the context, and how it shapes an error. `framework` in the config picks one."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from harness.serving.content import Reply

# Each hook's arguments without the context; a hook with one more parameter gets the context.
ARGUMENTS = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4,
             "pre_model_fn": 1, "model_warmup_fn": 2}
CHAIN = ("input_fn", "predict_fn", "output_fn")
CONFLICT = ("Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
            "and/or output_fn implementation")


@dataclass(frozen=True)
class Convention:
    name: str
    hooks: tuple[str, ...]  # the user functions it looks for
    model_fn: Callable
    input_fn: Callable
    predict_fn: Callable
    output_fn: Callable
    arity_message: Callable[[str, int, int], str]  # (hook, parameters, arguments) -> message
    error: Callable[[Exception], Reply]  # an exception from the hooks, as the toolkit answers it

    def bind(self, name: str, function: Callable, context) -> Callable:
        """`function` called with the hook's arguments, plus the context when it takes one
        more parameter (counted as the toolkits count them); any other count is refused."""
        parameters = len(inspect.signature(function).parameters)
        arguments = ARGUMENTS[name]
        if parameters == arguments:
            return function
        if parameters == arguments + 1:
            return lambda *args: function(*args, context)
        raise TypeError(self.arity_message(name, parameters, arguments))
