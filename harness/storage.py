"""Where a run's data lives: one S3-style layout, on any fsspec filesystem.

Each mode returns a `Storage`: a folder on this machine (`local`), LocalStack's S3
(`sagemaker-local`) or S3 (`sagemaker`). The layout under its root is the same everywhere:

    <root>/data/<channel>                      tokenized splits (`prepare`)
    <root>/channels/<channel>/                 local files and folders uploaded as channels
    <root>/<job>/output/model.tar.gz           a training job's artifacts, where SageMaker
    <root>/<job>/output/output.tar.gz          puts them under `output_path=<root>`
    <root>/<job>/checkpoints/<checkpoint>      `/opt/ml/checkpoints`, synced
    <root>/endpoints/<endpoint>/model.tar.gz   what an endpoint serves, where it is not an
                                               artifact above (uploaded, or with code/ added)
    <root>/code                                the training code SageMaker downloads
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem


class Storage:
    def __init__(self, root: str, fs, options: dict[str, Any] | None = None):
        """`root`: a local path or a URI (`s3://bucket/prefix`); `fs`: the fsspec filesystem
        that serves it; `options`: its fsspec storage options (for `datasets`)."""
        self.root = root.rstrip("/")
        self.fs = fs
        self.options = options

    @classmethod
    def local(cls, folder: Path) -> Storage:
        from fsspec.implementations.local import LocalFileSystem

        return cls(str(Path(folder).resolve()), LocalFileSystem(auto_mkdir=True))

    @classmethod
    def reading(cls, uri: str) -> Storage:
        """A Storage on the filesystem that serves `uri`; s3:// with the environment's AWS
        credentials and endpoint (boto's `AWS_ENDPOINT_URL` included)."""
        if uri.startswith("s3://"):
            return cls.s3(uri)
        from fsspec.core import url_to_fs

        return cls(uri, url_to_fs(uri)[0])

    @classmethod
    def s3(cls, root: str, **options: Any) -> Storage:
        """S3 through s3fs; `options` as s3fs takes them (key, secret, client_kwargs, ...).
        Listings are never cached: training containers write here behind our back."""
        import s3fs

        options = {**options, "use_listings_cache": False, "skip_instance_cache": True}
        return cls(root, s3fs.S3FileSystem(**options), options)

    # -- the layout ---------------------------------------------------------------------------

    def uri(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def dataset(self, channel: str) -> str:
        return self.uri("data", channel)

    def channel(self, channel: str) -> str:
        """The prefix of an uploaded channel. The slash ends it: channel `a` never reads `ab`'s
        keys, here, in SDK local mode or on SageMaker."""
        return self.uri("channels", channel) + "/"

    def model_artifact(self, job: str) -> str:
        return self.uri(job, "output", "model.tar.gz")

    def output_artifact(self, job: str) -> str:
        return self.uri(job, "output", "output.tar.gz")

    def checkpoints(self, job: str) -> str:
        return self.uri(job, "checkpoints")

    def code(self) -> str:
        return self.uri("code")

    def serving_model(self, endpoint: str) -> str:
        return self.uri("endpoints", endpoint, "model.tar.gz")

    # -- operations ---------------------------------------------------------------------------

    def exists(self, uri: str) -> bool:
        return self.fs.exists(uri)

    def open(self, uri: str, mode: str = "rb"):
        return self.fs.open(uri, mode)

    def remove(self, uri: str) -> None:
        """Delete one object or file; one that is not there is fine."""
        if self.fs.exists(uri):
            self.fs.rm(uri)

    def save_dataset(self, dataset, uri: str) -> str:
        """A `datasets` split, saved with `save_to_disk`."""
        dataset.save_to_disk(uri, storage_options=self.options)
        return uri

    def put(self, path: Path, uri: str) -> str:
        """Copy a file to `uri`, or every file under a folder to `uri/<relative path>`."""
        if Path(path).is_file():
            self.fs.put_file(str(path), uri)
        for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
            self.fs.put_file(str(file), f"{uri.rstrip('/')}/{file.relative_to(path).as_posix()}")
        return uri

    def replace(self, source: Path, uri: str) -> str:
        """Make `uri/` hold exactly `source`: a folder's files, or one file under its name (a
        channel's content, as SageMaker lays out a single object)."""
        if self.fs.exists(uri):
            self.fs.rm(uri, recursive=True)
        self.put(source, uri if source.is_dir() else f"{uri.rstrip('/')}/{source.name}")
        return uri

    def get_file(self, uri: str, destination: Path) -> Path:
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(uri, str(destination))
        return destination

    def get_folder(self, uri: str, destination: Path) -> Path:
        """Copy every object under `uri/` into `destination`, keeping relative paths; an object
        at `uri` itself lands in `destination` under its name, as SageMaker fills a channel."""
        base = self.fs._strip_protocol(uri).rstrip("/")
        if not uri.endswith("/") and self.fs.isfile(uri):
            return self.get_file(uri, destination / base.rpartition("/")[2]).parent
        for remote in self.fs.find(uri) if self.fs.exists(uri) else []:
            self.get_file(remote, destination / remote[len(base) + 1:])
        return destination


class RecordingFileSystem(AbstractFileSystem):
    """Takes uploads and keeps only their URIs: nothing is written anywhere."""

    cachable = False

    def __init__(self):
        super().__init__()
        self.puts: list[str] = []

    def put_file(self, lpath, rpath, **kwargs) -> None:
        self.puts.append(rpath)


class RecordingStorage(Storage):
    """A dry run's storage: the layout and URIs of `root`, with every upload recorded instead
    of made (`uploads`, in order)."""

    def __init__(self, root: str):
        super().__init__(root, RecordingFileSystem())

    @property
    def uploads(self) -> list[str]:
        return self.fs.puts

    def save_dataset(self, dataset, uri: str) -> str:
        """The files `save_to_disk` would write under `uri`, recorded."""
        with tempfile.TemporaryDirectory() as folder:
            dataset.save_to_disk(folder)
            return self.put(Path(folder), uri)
def local_path(uri: str) -> Path | None:
    """The file or folder a path or a file:// URI names; None for any other URI."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return None if "://" in uri else Path(uri)
