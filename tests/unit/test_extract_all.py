"""model_artifact.extract_all on a Python without tarfile's data filter (3.11.0 to 3.11.3, e.g.
Debian bookworm's, which the `tests` compose image runs on offline): what could leave the
folder is refused, the rest is extracted."""

import io
import tarfile

import pytest

from harness import model_artifact


def archive(*members: tarfile.TarInfo) -> tarfile.TarFile:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size))
    data.seek(0)
    return tarfile.open(fileobj=data)


def entry(name: str, kind=tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.size = kind, linkname, 1 if kind == tarfile.REGTYPE else 0
    return member


@pytest.fixture(params=["data filter", "without it"])
def python(request, monkeypatch):
    if request.param == "without it":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_a_model_archive_is_extracted(python, tmp_path):
    model_artifact.extract_all(archive(entry("model.json"), entry("code/inference.py"),
                                       entry("latest", tarfile.SYMTYPE, "model.json")), tmp_path)
    assert (tmp_path / "code" / "inference.py").read_bytes() == b"x"
    assert (tmp_path / "latest").resolve() == (tmp_path / "model.json").resolve()


@pytest.mark.parametrize("member", [
    entry("../outside"), entry("code/../../outside"),
    entry("link", tarfile.SYMTYPE, "../../etc/passwd"), entry("hard", tarfile.LNKTYPE, "../x"),
    entry("dev", tarfile.CHRTYPE)], ids=lambda m: m.name)
def test_what_would_leave_the_folder_is_refused(python, tmp_path, member):
    folder = tmp_path / "model"
    with pytest.raises(tarfile.TarError):
        model_artifact.extract_all(archive(member), folder)
    assert not (tmp_path / "outside").exists()
