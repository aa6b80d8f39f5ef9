"""A batch transform job's data plane, as SageMaker runs it against a model server: each input
file is split into records, packed into `POST /invocations` requests (`Content-Type` and
`Accept` from the job), and the answers, filtered and joined (`data_processing`), assembled
into `<file>.out` under the output path. A file is written whole or not at all; a file that
fails does not stop the others, and the job then fails naming each."""

from __future__ import annotations

import http.client
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import TransformConfig
from harness.errors import StepError
from harness.host import invocations
from harness.storage import Storage
from harness.transform import records as dp

DEFAULT_STRATEGY = "MultiRecord"  # SDK local mode's, and the model servers' answer
INVOCATION_TIMEOUT_S = 600  # ModelClientConfig.InvocationsTimeoutInSeconds' default


@dataclass
class Outcome:
    """What a transform job did: the `.out` files written, records sent, files that failed."""

    outputs: list[str] = field(default_factory=list)
    records: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # input -> reason


def inputs(storage: Storage, uri: str) -> list[tuple[str, str]]:
    """(input file, its path relative to `uri`): the one object `uri` names, or every object
    under it (sub-folders kept)."""
    fs = storage.fs
    if not fs.exists(uri):
        raise StepError(f"transform.data: nothing at {uri}",
                        "give a file, a folder or an S3 prefix that holds the input")
    if fs.isfile(uri):
        return [(uri, uri.rstrip("/").rpartition("/")[2])]
    base = fs._strip_protocol(uri).rstrip("/")
    prefix = "s3://" if uri.startswith("s3://") else ""
    return [(prefix + found, found[len(base) + 1:]) for found in sorted(fs.find(uri))]


def _at(index: int, step, *args):
    """`step(*args)` for record `index`; its error names the record (1 is the first line)."""
    try:
        return step(*args)
    except dp.RecordError as e:
        raise dp.RecordError(f"record {index + 1}: {e}") from None


class BatchJob:
    def __init__(self, url: str, spec: TransformConfig):
        self.url = url
        self.spec = spec
        self.strategy = spec.strategy or DEFAULT_STRATEGY
        self.processing = dp.DataProcessing(spec.content_type or "", spec.accept or "",
                                            spec.input_filter, spec.join_source,
                                            spec.output_filter)

    def run(self, files: list[tuple[str, str]], source: Storage, target: Storage,
            output_path: str, progress: bool = True) -> Outcome:
        from tqdm import tqdm

        outcome = Outcome()
        loaded = [(uri, relative, source.fs.cat_file(uri)) for uri, relative in files]
        records = [(uri, relative, dp.split(data, self.spec.split_type))
                   for uri, relative, data in loaded]
        bar = tqdm(total=sum(len(r) for *_, r in records), unit="record", file=sys.stderr,
                   disable=None if progress else True, desc="transform")
        with bar, tempfile.TemporaryDirectory(prefix="harness-transform-") as work, \
                ThreadPoolExecutor(self.spec.max_concurrent_transforms) as pool:
            try:
                for uri, relative, parts in records:
                    destination = f"{output_path.rstrip('/')}/{relative}.out"
                    staged = Path(work) / "out"
                    try:
                        staged.write_bytes(self._file(parts, pool, bar.update))
                    except (dp.RecordError, StepError) as e:
                        outcome.failed[uri] = str(e.message if isinstance(e, StepError) else e)
                        continue
                    target.fs.put_file(str(staged), destination)
                    outcome.outputs.append(destination)
                    outcome.records += len(parts)
            except BaseException:  # Ctrl-C: no request is started after it
                pool.shutdown(cancel_futures=True)
                raise
        return outcome

    def _file(self, records: list[bytes], pool: ThreadPoolExecutor, done) -> bytes:
        """One input file's assembled output."""
        if self.processing.active:
            decoded = [_at(i, self.processing.request, record) for i, record in enumerate(records)]
            payloads = [sent for _, sent in decoded]
        else:
            decoded, payloads = None, records
        batches = list(dp.batches(payloads, self.strategy, self.spec.max_payload_mb))
        bodies = [b"\n".join(payloads[i] for i in batch) for batch in batches]
        outputs: list[bytes] = []
        for batch, answer in zip(batches, pool.map(self._invoke, bodies), strict=True):
            if decoded is None:
                outputs.append(answer)
            else:
                for index, part in zip(batch, dp.split_answer(answer, len(batch)), strict=True):
                    outputs.append(_at(index, self.processing.output, decoded[index][0], part))
            done(len(batch))
        return dp.assemble(outputs, self.spec.assemble_with)

    def _invoke(self, body: bytes) -> bytes:
        headers = {}
        if self.spec.content_type:
            headers["Content-Type"] = self.spec.content_type
        if self.spec.accept:
            headers["Accept"] = self.spec.accept
        try:
            answer = invocations.request(self.url, body, headers, timeout_s=INVOCATION_TIMEOUT_S)
        except (http.client.HTTPException, OSError) as e:
            raise StepError(f"the model server sent no answer: {e}") from None
        if answer.status >= 400:
            detail = answer.body.decode(errors="replace").strip()
            raise StepError(f"the model answered {answer.status}: {detail[:500]}")
        return answer.body
