"""Helpers the tests share; no test lives here, and no test imports another test module."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout
