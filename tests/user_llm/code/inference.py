"""The user's serving code for their character-level GPT-2: SageMaker's model_fn, input_fn (the
PyTorch toolkit's default would make a tensor of the JSON) and predict_fn."""

import json
from pathlib import Path

import torch
from transformers import GPT2LMHeadModel


def model_fn(model_dir):
    vocabulary = json.loads((Path(model_dir) / "vocabulary.json").read_text())
    return GPT2LMHeadModel.from_pretrained(model_dir).eval(), vocabulary


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model_and_vocabulary):
    model, vocabulary = model_and_vocabulary
    prompts = data["inputs"] if isinstance(data["inputs"], list) else [data["inputs"]]
    new_tokens = data.get("parameters", {}).get("max_new_tokens", 20)
    answers = []
    for prompt in prompts:
        ids = torch.tensor([[vocabulary.index(c) for c in prompt if c in vocabulary]])
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=0)
        answers.append({"generated_text": "".join(vocabulary[i] for i in out[0, ids.shape[1]:])})
    return answers
