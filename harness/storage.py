"""Where a run's data lives: one S3-style layout, on any fsspec filesystem.

Each mode returns a `Storage`: a folder on this machine (`local`), LocalStack's S3
(`sagemaker-local`) or S3 (`sagemaker`). The layout under its root is the same everywhere:

    <root>/data/<channel>                      tokenized splits (`prepare`)
    <root>/channels/<channel>                  local folders uploaded as input channels
    <root>/<job>/output/model.tar.gz           a training job's artifacts, where SageMaker
    <root>/<job>/output/output.tar.gz          puts them under `output_path=<root>`
    <root>/<job>/checkpoints/<checkpoint>      `/opt/ml/checkpoints`, synced
    <root>/endpoints/<endpoint>/model.tar.gz   what an endpoint serves, where it is not an
                                               artifact above (uploaded, or with code/ added)
    <root>/code                                the training code SageMaker downloads
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
        return self.uri("channels", channel)

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

    def local_path(self, uri: str) -> Path | None:
        """The file or folder behind `uri` when it is on this machine, else None."""
        from fsspec.implementations.local import LocalFileSystem

        return Path(uri) if isinstance(self.fs, LocalFileSystem) else None

    def exists(self, uri: str) -> bool:
        return self.fs.exists(uri)

    def open(self, uri: str, mode: str = "rb"):
        return self.fs.open(uri, mode)

    def save_dataset(self, dataset, uri: str) -> str:
        """A `datasets` split, saved with `save_to_disk`."""
        dataset.save_to_disk(uri, storage_options=self.options)
        return uri

    def put_folder(self, folder: Path, uri: str) -> str:
        """Copy every file under `folder` to `uri/<relative path>`."""
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            self.fs.put_file(str(path), f"{uri}/{path.relative_to(folder).as_posix()}")
        return uri

    def get_file(self, uri: str, destination: Path) -> Path:
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(uri, str(destination))
        return destination

    def get_folder(self, uri: str, destination: Path) -> Path:
        """Copy every object under `uri/` into `destination`, keeping relative paths."""
        base = self.fs._strip_protocol(uri).rstrip("/")
        for remote in self.fs.find(uri) if self.fs.exists(uri) else []:
            self.get_file(remote, destination / remote[len(base) + 1:])
        return destination
