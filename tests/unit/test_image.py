"""harness's image follows the ML stack installed here: its requirements pin this machine's
versions, torch without its build label, and the tag changes with them. Other environments
are made by putting distributions' metadata first on the path, as another install would."""

import json
import subprocess
import sys
from importlib import metadata

from harness.containers import image

REPORT = """
import json
from harness.containers import image
print(json.dumps({"image": image.default_image(), "requirements": image.requirements()}))
"""


def in_environment(tmp_path, versions: dict[str, str]) -> dict:
    """default_image() and requirements() where `versions` are installed over this Python's."""
    site = tmp_path / "site"
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    result = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r})"
                             f"\n{REPORT}"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def pins(requirements: str) -> dict[str, str]:
    return dict(line.split("==", 1) for line in requirements.splitlines()
                if "==" in line and not line.startswith("#"))


def test_the_image_pins_the_versions_installed_here():
    pinned = pins(image.requirements())
    for name in image.HOST_PACKAGES:
        assert pinned[name] == metadata.version(name).split("+")[0], name
    assert pinned["sagemaker-pytorch-training"] == "3.0.0"  # not the host's: requirements.txt's
    torch, transformers = pinned["torch"], pinned["transformers"]
    assert image.default_image().startswith(f"harness-train:torch{torch}-transformers{transformers}-")


def test_another_environment_is_another_image(tmp_path):
    here = in_environment(tmp_path / "same", {})
    assert here["image"] == image.default_image()

    older = in_environment(tmp_path / "older", {"transformers": "5.0.0", "datasets": "5.0.0"})
    assert pins(older["requirements"])["transformers"] == "5.0.0"
    assert pins(older["requirements"])["datasets"] == "5.0.0"
    assert "-transformers5.0.0-" in older["image"] and older["image"] != here["image"]

    torch = metadata.version("torch").split("+")[0]
    cuda = in_environment(tmp_path / "cuda", {"torch": f"{torch}+cu128"})
    assert pins(cuda["requirements"])["torch"] == torch  # the CPU build of the same release
    assert cuda["image"] == here["image"]
