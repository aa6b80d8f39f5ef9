"""A user's own causal-LM training script, written the SageMaker way: it reads its channel and
hyperparameters from the training toolkit's environment and saves to SM_MODEL_DIR."""

import argparse
import json
import os
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--lr", type=float, default=3e-3)
args, _ = parser.parse_known_args()

text = "\n".join(p.read_text() for p in sorted(Path(os.environ["SM_CHANNEL_TRAIN"]).glob("*.txt")))
vocabulary = sorted(set(text))  # a character-level model: its vocabulary is the text's bytes
ids = torch.tensor([[vocabulary.index(c) for c in text]])

torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocabulary), n_positions=256, n_embd=64,
                                   n_layer=2, n_head=2))
optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
for step in range(args.steps):
    loss = model(ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    if step % 50 == 0:
        print(f"step {step} loss {loss.item():.4f}")
print(f"final loss {loss.item():.4f}")

model_dir = Path(os.environ["SM_MODEL_DIR"])
model.save_pretrained(model_dir)
(model_dir / "vocabulary.json").write_text(json.dumps(vocabulary))
