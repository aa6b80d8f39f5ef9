"""The SageMaker hosting contract: `GET /ping`, `POST /invocations`, and the Runtime API path.

This package needs only the standard library and transformers, so the container's `serve`
runs it without the rest of harness.
"""
