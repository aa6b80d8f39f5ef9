"""Each mode's storage keeps the same layout and round-trips what it is given."""

from __future__ import annotations

from harness.job import open_job


def test_files_folders_and_datasets_round_trip(mode, contract_job, tmp_path):
    from datasets import Dataset, load_from_disk

    storage = open_job(contract_job("probe.py"), [], mode.name).storage
    source = tmp_path / "source"
    (source / "nested").mkdir(parents=True)
    (source / "nested" / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (source / "config.json").write_text("{}")
    uri = storage.put(source, storage.channel("model"))
    assert uri == storage.channel("model") and uri.startswith(storage.root)
    back = storage.get_folder(uri, tmp_path / "back")
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*") if p.is_file()) == \
        ["config.json", "nested/weights.bin"]
    assert (back / "nested" / "weights.bin").read_bytes() == b"\x00\x01" * 1000

    storage.put(source / "config.json", storage.uri("single.json"))
    assert storage.get_file(storage.uri("single.json"), tmp_path / "one.json").read_text() == "{}"
    with storage.open(storage.output_artifact("job-1"), "wb") as sink:
        sink.write(b"archive")
    with storage.open(storage.output_artifact("job-1")) as stored:
        assert stored.read() == b"archive"
    assert storage.exists(storage.output_artifact("job-1"))
    assert not storage.exists(storage.model_artifact("job-1"))
    assert storage.get_folder(storage.checkpoints("no-such-job"), tmp_path / "none") \
        == tmp_path / "none"  # nothing stored: nothing fetched, no error

    rows = Dataset.from_dict({"text": ["a", "b", "c"], "labels": [0, 1, 0]})
    saved = storage.save_dataset(rows, storage.dataset("train"))
    fetched = storage.get_folder(saved, tmp_path / "train")
    assert load_from_disk(str(fetched))["text"] == ["a", "b", "c"]
