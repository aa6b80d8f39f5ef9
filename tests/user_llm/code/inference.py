"""The user's serving code for their character-level GPT-2: SageMaker's model_fn, input_fn (the
PyTorch toolkit's default would make a tensor of the JSON) and predict_fn, which answers the TGI
request (`inputs`) and, for clients written against the vLLM/TGI DLCs, the Messages API
(`messages`: the last user turn is the prompt)."""

import json
from pathlib import Path

import torch
from transformers import GPT2LMHeadModel


def model_fn(model_dir):
    vocabulary = json.loads((Path(model_dir) / "vocabulary.json").read_text())
    return GPT2LMHeadModel.from_pretrained(model_dir).eval(), vocabulary


def input_fn(body, content_type):
    return json.loads(body)


def generate(model, vocabulary, prompt, new_tokens):
    ids = torch.tensor([[vocabulary.index(c) for c in prompt if c in vocabulary]])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    return "".join(vocabulary[i] for i in out[0, ids.shape[1]:]), ids.shape[1]


def predict_fn(data, model_and_vocabulary):
    model, vocabulary = model_and_vocabulary
    if "messages" in data:
        prompt = [turn for turn in data["messages"] if turn["role"] == "user"][-1]["content"]
        new_tokens = data.get("max_tokens", 20)
        text, prompt_tokens = generate(model, vocabulary, prompt, new_tokens)
        return {"object": "chat.completion", "model": "user-gpt",
                "choices": [{"index": 0, "finish_reason": "length",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": new_tokens,
                          "total_tokens": prompt_tokens + new_tokens}}
    prompts = data["inputs"] if isinstance(data["inputs"], list) else [data["inputs"]]
    new_tokens = data.get("parameters", {}).get("max_new_tokens", 20)
    return [{"generated_text": generate(model, vocabulary, prompt, new_tokens)[0]}
            for prompt in prompts]
