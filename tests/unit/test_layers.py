"""The allowed direction of imports between harness's packages, checked on the source (every
import, at the top of a module or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import REPO

PACKAGE = REPO / "harness"
TOP = ("harness.cli", "harness.api", "harness.pytest_plugin", "harness.commands")
# module prefix -> the harness modules it must not import (a prefix matches itself and below)
FORBIDDEN = {
    # the endpoint server is baked into the image alone (with harness/__init__.py)
    "harness.serving": ("harness.",),
    "harness.errors": ("harness.",),
    "harness.names": ("harness.",),
    # the config validates each mode's settings, and knows no more of the modes
    "harness.config": (*TOP, "harness.job", "harness.modes", "harness.storage",
                       "harness.run_dir", "harness.host", "harness.containers", "harness.sdk",
                       "harness.dataset", "harness.transform.batch"),
    # low parts: none of them drives a mode or a command
    **{low: (*TOP, "harness.job", "harness.modes") for low in (
        "harness.host", "harness.dataset", "harness.transform", "harness.storage",
        "harness.run_dir", "harness.channels", "harness.checkpoints", "harness.model_artifact",
        "harness.metrics", "harness.plot", "harness.summary", "harness.project",
        "harness.requirements")},
    "harness.containers": (*TOP, "harness.job", "harness.modes", "harness.sdk"),
    # tracking is called where a step ends; no mode knows of it, and it knows no mode
    "harness.tracking": (*TOP, "harness.job", "harness.modes", "harness.sdk",
                         "harness.containers"),
    "harness.sdk": (*TOP, "harness.job", "harness.modes"),
    "harness.modes": (*TOP, "harness.job"),
    "harness.job": TOP,
    "harness.commands": ("harness.cli", "harness.api", "harness.pytest_plugin"),
}


def excepted(module: str, name: str) -> bool:
    """The exceptions the rules state: the endpoint server may import harness/__init__.py;
    the config, the mode registry and each mode's settings (validated when a config loads)."""
    if within(module, "harness.serving"):
        return name == "harness"
    if within(module, "harness.config"):
        parts = name.split(".")  # a settings module, or a name imported from one
        return name == "harness.modes" or (within(name, "harness.modes") and "settings" in parts[3:])
    return False


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "harness" or name.startswith("harness.")}


def within(name: str, prefix: str) -> bool:
    prefix = prefix.rstrip(".")
    return name == prefix or name.startswith(prefix + ".")


def rule_of(module: str) -> str | None:
    """The most specific rule's prefix for `module`."""
    matching = [prefix for prefix in FORBIDDEN if within(module, prefix)]
    return max(matching, key=len) if matching else None


def violations(module: str, imported: set[str]) -> list[str]:
    """What `module` imports against its rule (its own package aside)."""
    prefix = rule_of(module)
    if prefix is None:
        return []
    return [name for name in sorted(imported)
            if not within(name, prefix) and not excepted(module, name)
            and any(within(name, forbidden) for forbidden in FORBIDDEN[prefix])]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_go_one_way(path):
    module = module_name(path)
    assert violations(module, imports(path)) == [], f"{module} imports upward"


def test_the_rules_catch_an_upward_import():
    assert violations("harness.host.process", {"harness.modes.base"}) == ["harness.modes.base"]
    assert violations("harness.serving.server", {"harness.config"}) == ["harness.config"]
    assert violations("harness.config.schema", {"harness.modes", "harness.modes.local.settings"}) \
        == []
    assert violations("harness.config.schema", {"harness.modes.local.mode"}) != []
