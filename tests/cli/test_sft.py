"""The bundled SFT recipe (train/sft.py) and the generation contracts of the endpoint: the TGI
request, the Messages API and token streaming through InvokeEndpointWithResponseStream."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from harness.config import load_config
from harness.host import invocations
from harness.host.endpoint_process import free_port
from harness.serving.handler import Handler
from harness.serving.limits import Limits
from harness.serving.server import ModelServer
from tests.support.cli import harness
from tests.support.runs import REPO, minilm_dir, recipe

NAME = "llm-endpoint"
SFT_DATA = REPO / "data" / "sft" / "train.jsonl"
PROMPT = "<|im_start|>user\nWhat do bees make?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def sft_py():
    return recipe("sft.py")


@pytest.fixture(scope="module")
def tiny_lm(sft_py, tmp_path_factory) -> Path:
    """sft.py's tiny Llama, untrained, that never ends a sentence on its own (its end tokens
    are suppressed), so each generation runs to max_new_tokens."""
    import torch

    torch.manual_seed(0)
    rows = [json.loads(line) for line in SFT_DATA.read_text().splitlines()]
    tokenizer = sft_py.tiny_tokenizer(
        turn["content"] for row in rows for turn in row["messages"])
    model = sft_py.tiny_model(tokenizer)
    model.generation_config.suppress_tokens = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    folder = tmp_path_factory.mktemp("tiny-lm")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def serve(model_dir: Path):
    server = ModelServer(("127.0.0.1", 0), Handler(model_dir), NAME, Limits())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server(tiny_lm):
    server = serve(tiny_lm)
    yield server
    server.shutdown()
    server.server_close()


def post(server, payload) -> tuple[int, object]:
    answer = invocations.request(invocations.local(server.server_address[1]), json.dumps(payload),
                                 {"Content-Type": "application/json"}, timeout_s=60)
    return answer.status, answer.decoded()


@pytest.fixture(scope="module")
def runtime(server):
    return invocations.runtime_client(invocations.local(server.server_address[1]))


def streamed(runtime, payload) -> list[bytes]:
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=NAME, ContentType="application/json", Body=json.dumps(payload))
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]]


def events(parts: list[bytes]) -> list:
    """Each part is exactly one server-sent event."""
    assert all(part.startswith(b"data: ") and part.endswith(b"\n\n") for part in parts)
    return [part[6:-2].decode() if part == b"data: [DONE]\n\n" else json.loads(part[6:])
            for part in parts]


def test_tgi_request_answers_generated_text(server):
    status, body = post(server, {"inputs": PROMPT, "parameters": {"max_new_tokens": 5}})
    assert status == 200 and isinstance(body, list) and set(body[0]) == {"generated_text"}
    assert body[0]["generated_text"] and not body[0]["generated_text"].startswith(PROMPT)
    status, full = post(server, {"inputs": PROMPT, "parameters": {"max_new_tokens": 5,
                                                                  "return_full_text": True}})
    assert full[0]["generated_text"] == PROMPT + body[0]["generated_text"]
    status, several = post(server, {"inputs": [PROMPT, "x"], "parameters": {"max_new_tokens": 2}})
    assert status == 200 and [len(answer) for answer in several] == [1, 1]
    assert several[0] == [{"generated_text": post(server, {"inputs": PROMPT, "parameters": {
        "max_new_tokens": 2}})[1][0]["generated_text"]}]


def test_seed_repeats_a_sampled_answer_and_stop_ends_it(server):
    sampled = {"inputs": PROMPT, "parameters": {"max_new_tokens": 12, "do_sample": True,
                                                "temperature": 1.5, "seed": 11}}
    first, again = post(server, sampled)[1], post(server, sampled)[1]
    assert first == again
    greedy = post(server, {"inputs": PROMPT, "parameters": {"max_new_tokens": 12}})[1]
    text = greedy[0]["generated_text"]
    stop = text[len(text) // 2:len(text) // 2 + 2]
    stopped = post(server, {"inputs": PROMPT, "parameters": {"max_new_tokens": 12,
                                                             "stop": [stop]}})[1]
    assert stop in stopped[0]["generated_text"] and len(stopped[0]["generated_text"]) < len(text)


def test_messages_api_answers_a_chat_completion(server, tiny_lm):
    from transformers import AutoTokenizer

    messages = [{"role": "user", "content": "What do bees make?"}]
    status, body = post(server, {"messages": messages, "max_tokens": 7, "temperature": 1.0})
    assert status == 200 and body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] == "length"  # its end token is suppressed
    prompt = AutoTokenizer.from_pretrained(tiny_lm).apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert body["usage"] == {"prompt_tokens": len(prompt), "completion_tokens": 7,
                             "total_tokens": len(prompt) + 7}


def test_tgi_stream_through_boto3_sends_one_event_per_token(server, runtime):
    request = {"inputs": PROMPT, "parameters": {"max_new_tokens": 6}}
    whole = post(server, request)[1][0]["generated_text"]
    sent = events(streamed(runtime, {**request, "stream": True}))
    assert [event["index"] for event in sent] == [1, 2, 3, 4, 5, 6]
    assert "".join(event["token"]["text"] for event in sent) == whole
    assert all(event["generated_text"] is None for event in sent[:-1])
    assert sent[-1]["generated_text"] == whole
    assert sent[-1]["details"] == {"finish_reason": "length", "generated_tokens": 6, "seed": None}


def test_chat_stream_through_boto3_ends_with_done(server, runtime):
    request = {"messages": [{"role": "user", "content": "Who writes inference.py?"}],
               "max_tokens": 5}
    whole = post(server, request)[1]
    sent = events(streamed(runtime, {**request, "stream": True}))
    assert sent[-1] == "[DONE]"
    chunks = sent[:-1]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == \
        whole["choices"][0]["message"]["content"]
    assert len(chunks) == 5 + 1  # a chunk per token, then the finish reason with usage
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"] == whole["usage"]


@pytest.mark.parametrize("request_body, message", [
    ({"inputs": "x", "parameters": {"temperature": 0}}, "`temperature` must be strictly positive"),
    ({"inputs": "x", "parameters": {"top_p": 1.5}}, "`top_p` must be > 0.0 and <= 1.0"),
    ({"inputs": "x", "parameters": {"top_k": 0}}, "`top_k` must be strictly positive"),
    ({"inputs": "x", "parameters": {"max_new_tokens": 0}}, "`max_new_tokens` must be strictly"),
    ({"inputs": "x", "parameters": {"max_new_tokens": 5000}},
     "`inputs` tokens + `max_new_tokens` must be <= 512"),
    ({"inputs": "x", "parameters": {"stop": ["a", "b", "c", "d", "e"]}},
     "up to 4 stop sequences"),
    ({"inputs": "x", "parameters": {"max_length": 5}}, "unknown generation parameters: max_length"),
    ({"inputs": ["x", "y"], "stream": True}, "a stream takes one prompt"),
    ({"messages": "hi"}, '"messages" must be a non-empty list'),
    ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "`n` must be 1"),
])
def test_bad_generation_parameters_are_422_with_the_reason(server, request_body, message):
    status, body = post(server, request_body)
    assert status == 422 and message in body["message"]
    assert post(server, {"inputs": "x", "parameters": {"max_new_tokens": 1}})[0] == 200


def test_client_leaving_mid_stream_stops_its_generation(tiny_lm):
    server = serve(tiny_lm)
    model = server.worker.handler.model.model
    steps = []
    hook = model.register_forward_hook(lambda *args: steps.append(1))
    try:
        body = json.dumps({"inputs": PROMPT, "parameters": {"max_new_tokens": 400},
                           "stream": True}).encode()
        with socket.create_connection(server.server_address) as client:
            client.sendall(b"POST /endpoints/" + NAME.encode() + b"/invocations-response-stream"
                           b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            received = b""
            while b"PayloadPart" not in received:  # the first token has arrived
                received += client.recv(4096)
        # The model thread takes requests one at a time: this answer comes once the abandoned
        # generation has ended.
        assert post(server, {"inputs": "x", "parameters": {"max_new_tokens": 1}})[0] == 200
        assert len(steps) < 400 - 1
    finally:
        hook.remove()
        server.shutdown()
        server.server_close()


def test_stream_or_chat_to_a_model_that_cannot_generate_is_400(tiny_classifier):
    server = serve(tiny_classifier)
    try:
        status, body = post(server, {"inputs": "great", "stream": True})
        assert status == 400 and "cannot generate text (its task is text-classification)" in \
            body["message"] and 'without "stream"' in body["message"]
        status, body = post(server, {"messages": [{"role": "user", "content": "hi"}]})
        assert status == 400 and '"messages"' in body["message"]
        runtime = invocations.runtime_client(invocations.local(server.server_address[1]))
        with pytest.raises(runtime.exceptions.ModelError) as error:
            streamed(runtime, {"inputs": "great", "stream": True})
        assert error.value.response["OriginalStatusCode"] == 400
    finally:
        server.shutdown()
        server.server_close()


def sft_config(folder: Path, **hyperparameters) -> Path:
    """A user's config for the bundled recipe, as docs/llm.md writes one."""
    config = {
        "name": "my-sft", "source_dir": str(REPO / "train"), "entry_point": "sft.py",
        "inputs": {"train": str(SFT_DATA)}, "run_dir": str(folder / "run"),
        "hyperparameters": {"model_name": "tiny", "max_steps": 3, "train_batch_size": 2,
                            "max_seq_length": 128, "gradient_checkpointing": False,
                            "logging_steps": 1, "learning_rate": 1e-3, **hyperparameters},
        "metric_definitions": [{"Name": "train_loss",
                                "Regex": r"^train step .*\bloss\W+([0-9.eE+-]+)"}],
        "endpoint": {"port": free_port()},
    }
    path = folder / "sft.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_sft_trains_the_tiny_model_in_local_mode(tmp_path):
    result = harness("train", "-c", str(sft_config(tmp_path)), "--mode", "local")
    assert "train_loss" in result.stdout
    run = json.loads((tmp_path / "run" / "state.json").read_text())
    unpacked = tmp_path / "model"
    with tarfile.open(run["training"]["model_artifact"]) as tar:
        tar.extractall(unpacked, filter="data")
        names = set(tar.getnames())
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= names
    assert "adapter_config.json" not in names  # merged: a plain model the toolkits load
    from safetensors import safe_open

    with safe_open(str(unpacked / "model.safetensors"), "pt") as weights:
        stored = weights.keys()
    assert "model.embed_tokens.weight" in stored and not [k for k in stored if "lora" in k]
    with tarfile.open(run["training"]["output_artifact"]) as tar:
        metrics = json.load(tar.extractfile("data/metrics.json"))
    assert metrics["train_loss"] > 0 and metrics["epoch"] > 0


def run_sft(tmp_path: Path, rows: list[dict], *args: str) -> subprocess.CompletedProcess:
    """sft.py alone, under the SageMaker training contract's environment."""
    channel = tmp_path / "train"
    channel.mkdir()
    (channel / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    env = {**os.environ, "SM_MODEL_DIR": str(tmp_path / "model"),
           "SM_OUTPUT_DATA_DIR": str(tmp_path / "out"), "SM_CHANNEL_TRAIN": str(channel)}
    env.pop("SM_CHANNEL_TEST", None)
    env.pop("SM_CHANNEL_MODEL", None)
    return subprocess.run([sys.executable, str(REPO / "train" / "sft.py"), "--max_steps", "1",
                           *args], env=env, capture_output=True, text=True, timeout=300)


CHAT = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}]


@pytest.mark.parametrize("rows, args, message", [
    ([{"question": "q", "answer": "a"}], ["--model_name", "tiny"],
     "the train channel's rows have the columns question, answer, but need `messages`"),
    (CHAT, ["--model_name", "tiny", "--max_seq_length", "4096"],
     "--max_seq_length 4096 is beyond the 512 tokens the model tiny takes"),
    (CHAT, ["--model_name", str(minilm_dir())], "has no chat template, so its tokenizer cannot "
                                                "format `messages`"),
    (CHAT, ["--model_name", "tiny", "--merge_adapter", "false"], "keep merge_adapter true"),
], ids=["columns", "max_seq_length", "chat_template", "tiny_adapter"])
def test_sft_refuses_bad_input_before_training(tmp_path, rows, args, message):
    result = run_sft(tmp_path, rows, *args)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("sft.py: ") and message in last
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())


@pytest.mark.parametrize("config", ["sft-tiny.yaml", "sft-smollm.yaml"])
def test_sft_configs_are_valid(config):
    loaded = load_config(str(REPO / "configs" / config))
    assert loaded.script == REPO / "train" / "sft.py"
    assert loaded.local_input(loaded.inputs["train"]) == SFT_DATA


def test_predict_stream_prints_tokens_as_text():
    parts = [b'data: {"index": 1, "token": {"id": 5, "text": "Hon"}, "generated_text": null}\n\n',
             b'data: {"index": 2, "token": {"id": 6, "text": "ey."}, "generated_text": "Honey."}'
             b"\n\n",
             b'data: {"choices": [{"index": 0, "delta": {"con',  # an event split in two parts
             b'tent": "!"}}]}\n\ndata: [DONE]\n\n', b"data: after the end\n\n"]
    assert list(invocations.streamed_text(iter(parts))) == ["Hon", "ey.", "!"]


# The reclaim test's: the rehearsed reclaim polls every 0.2 s, and the tiny model makes a
# step in milliseconds on a quiet machine: enough steps that the reclaim lands before the end.
STEPS, EVERY = 200, 25


@pytest.mark.e2e  # three training runs
def test_sft_reclaim_resumes_the_adapter_to_the_same_loss(tmp_path):
    """Killed after its first checkpoint, the job resumes (the tiny base rebuilt from the seed,
    the adapter and optimizer state from the checkpoint) and ends where an unbroken one does."""
    configs = {}
    for name in ("unbroken", "reclaimed"):
        folder = tmp_path / name
        folder.mkdir()
        configs[name] = sft_config(folder, max_steps=STEPS, checkpoint_steps=EVERY,
                                   train_batch_size=4)
        config = yaml.safe_load(configs[name].read_text())
        configs[name].write_text(yaml.safe_dump({**config, "checkpoints": {"enabled": True}}))
    harness("train", "-c", str(configs["unbroken"]), "--mode", "local")
    harness("train", "-c", str(configs["reclaimed"]), "--mode", "local",
            "--interrupt-after-checkpoint", "1")
    log = (tmp_path / "reclaimed" / "run" / "train.log").read_text()
    after = log.split("resuming from", 1)[1]
    # The reclaim lands once a checkpoint is complete; the tiny model may have made more by then.
    resumed = int(re.search(r"/checkpoint-(\d+)$", after.split("\n", 1)[0]).group(1))
    assert resumed < STEPS, "the job had ended before the reclaim: nothing was resumed"
    steps = [int(n) for n in re.findall(rf"^train step (\d+)/{STEPS}", after, re.MULTILINE)]
    assert steps == list(range(resumed + 1, STEPS + 1))

    def last_loss(name: str) -> float:
        text = (tmp_path / name / "run" / "train.log").read_text()
        return float(re.findall(rf"^train step {STEPS}/{STEPS} .*?\bloss (\S+)", text,
                                re.MULTILINE)[-1])

    assert last_loss("reclaimed") == pytest.approx(last_loss("unbroken"), rel=1e-4)


def test_sft_full_fine_tuning_saves_a_plain_model(tmp_path):
    rows = [json.loads(line) for line in SFT_DATA.read_text().splitlines()]
    result = run_sft(tmp_path, rows, "--model_name", "tiny", "--use_lora", "false",
                     "--max_seq_length", "128", "--gradient_checkpointing", "false")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "full fine-tuning: all" in result.stdout
    from safetensors import safe_open

    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as weights:
        stored = list(weights.keys())
    assert "model.layers.0.self_attn.q_proj.weight" in stored
    assert not [key for key in stored if "lora" in key]
    assert not (tmp_path / "model" / "adapter_config.json").exists()


def test_sharding_hyperparameters_reach_the_trainer_as_sagemaker_users_pass_them(
        sft_py, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the script's folder, source_dir, in a training container
    (tmp_path / "fsdp.json").write_text('{"transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"]}')
    (tmp_path / "ds_zero3.json").write_text('{"zero_optimization": {"stage": 3}}')
    parse = sft_py.parse_args
    assert sft_py.sharding(parse([])) == {}
    assert sft_py.sharding(parse(["--fsdp", "full_shard auto_wrap", "--fsdp_config",
                                  "fsdp.json"])) == {"fsdp": "full_shard auto_wrap",
                                                     "fsdp_config": "fsdp.json"}
    inline = parse(["--fsdp", "full_shard", "--fsdp_config", '{"min_num_params": 1000}'])
    assert sft_py.sharding(inline)["fsdp_config"] == {"min_num_params": 1000}
    assert sft_py.sharding(parse(["--deepspeed", "ds_zero3.json"])) == {
        "deepspeed": "ds_zero3.json"}
    with pytest.raises(SystemExit) as stop:
        sft_py.sharding(parse(["--deepspeed", "zero3.json"]))
    assert "--deepspeed zero3.json: no such file beside sft.py" in str(stop.value)
    from trl import SFTConfig

    config = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none",
                       **sft_py.sharding(inline))
    assert config.fsdp_config["min_num_params"] == 1000 and config.fsdp


def test_bad_input_under_two_processes_is_one_screen(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q", "answer": "a"}\n')
    config = sft_config(tmp_path)
    loaded = yaml.safe_load(config.read_text())
    loaded["inputs"] = {"train": str(data)}
    config.write_text(yaml.safe_dump(loaded))
    result = harness("train", "-c", str(config), "--mode", "local",
                     "--set", "modes.local.processes=2", check=False)
    assert result.returncode != 0
    assert "sft.py: the train channel's rows have the columns question, answer" in result.stderr
    assert "Root Cause" not in result.stderr and "torch/distributed" not in result.stderr
    assert len(result.stderr.splitlines()) < 15, result.stderr
