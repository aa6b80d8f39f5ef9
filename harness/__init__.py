"""harness: fine-tune Transformers models and deploy them the SageMaker way, locally first.

From Python: `harness.session(mode, config=None)` and `harness.Job.from_config(path, mode=...)`
(see harness.api). They are loaded on first use: this package is also the endpoint server's,
in containers that have only the standard library and transformers."""

API = ("session", "Job", "Predictor", "HarnessError")


def __getattr__(name: str):
    if name == "HarnessError":
        from harness.errors import HarnessError

        return HarnessError
    if name in API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
