"""Supervised fine-tuning of a causal LM with LoRA (TRL's SFTTrainer): one script for every mode.

Like train.py it reads only the SageMaker training contract, so it runs unchanged under
`harness --mode local`, in SageMaker local-mode containers and on SageMaker itself:
- hyperparameters arrive as `--key value` arguments;
- data comes from `SM_CHANNEL_TRAIN` (and `SM_CHANNEL_TEST`, optional): JSON Lines files, each
  row a conversation (`messages`, formatted with the tokenizer's chat template) or plain text
  (`--text_column`); the base model from `SM_CHANNEL_MODEL` when that channel exists, else the
  hub id in `--model_name`. `--model_name tiny` builds, with no internet, a 2-layer Llama with
  random weights and a byte-level BPE tokenizer trained on the train channel's text;
- LoRA adapters are trained (QLoRA, a 4-bit base, where CUDA and bitsandbytes are present);
  at the end they are merged into the base and the whole model saved to `SM_MODEL_DIR`
  (`--merge_adapter true`), or the adapter alone is saved with its base named;
- metrics go to the log (for `metric_definitions`) and `SM_OUTPUT_DATA_DIR/metrics.json`;
- when `/opt/ml/checkpoints` exists, checkpoints (adapter and optimizer state) are saved there
  and a restarted job resumes from the newest complete one.
"""

import argparse
import glob
import json
import logging
import os
import sys
import tempfile

import torch
from datasets import load_dataset
from peft import LoraConfig, PeftModel
from sm_training import (  # beside this script in source_dir
    MarkComplete,
    boolean,
    checkpoint_folder,
    latest_complete_checkpoint,
    leave_process_group,
    precision,
    read_contract,
    trainer_arguments,
)
from torch.distributed.elastic.multiprocessing.errors import record
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    PreTrainedTokenizerFast,
    PrinterCallback,
    TrainerCallback,
    set_seed,
)
from trl import SFTConfig, SFTTrainer

logger = logging.getLogger("sft")
CONTRACT = ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_TRAIN")
TINY = "tiny"
DEFAULT_MAX_SEQ_LENGTH = 1024
# ChatML, the template of Qwen and SmolLM instruct models; the tiny model's tokenizer uses it.
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
          "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TINY_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", default="HuggingFaceTB/SmolLM2-135M-Instruct",
                        help="a hub id, or `tiny` (built here, random weights)")
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--max_steps", type=int, default=-1, help="if > 0, overrides --epochs")
    parser.add_argument("--train_batch_size", type=int, default=8)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--lr_scheduler_type", default="linear")
    parser.add_argument("--warmup_steps", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--logging_steps", type=int, default=10)
    parser.add_argument("--checkpoint_steps", type=int, default=0,
                        help="with a checkpoint folder: save every N steps (0: every epoch)")
    parser.add_argument("--max_seq_length", type=int, default=None,
                        help="tokens per training sequence, packed or truncated (default: 1024, "
                             "or the model's limit where that is lower)")
    parser.add_argument("--packing", type=boolean, default=True,
                        help="pack examples into full sequences (best-fit, no cross-attention)")
    parser.add_argument("--text_column", default="text",
                        help="the plain-text column, used when rows have no `messages`")
    parser.add_argument("--assistant_only_loss", type=boolean, default=False,
                        help="loss on the assistant's turns only (the chat template must mark "
                             "them with {% generation %})")
    parser.add_argument("--gradient_checkpointing", type=boolean, default=True)
    parser.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                        help="auto: bf16 where the GPU has it, fp16 on older GPUs, fp32 on CPU")
    parser.add_argument("--quantization", choices=("auto", "4bit", "none"), default="auto",
                        help="auto: QLoRA (4-bit base) where CUDA and bitsandbytes are present")
    parser.add_argument("--use_lora", type=boolean, default=True,
                        help="train LoRA adapters (false: fine-tune every weight of the model)")
    parser.add_argument("--lora_r", type=int, default=16)
    parser.add_argument("--lora_alpha", type=int, default=32)
    parser.add_argument("--lora_dropout", type=float, default=0.05)
    parser.add_argument("--lora_target_modules", type=names, default=["all-linear"])
    parser.add_argument("--lora_modules_to_save", type=names, default=[],
                        help="modules trained in full, e.g. embed_tokens,lm_head")
    parser.add_argument("--fsdp", default="",
                        help="TrainingArguments.fsdp, e.g. `full_shard auto_wrap`: shard the model "
                             "over the processes (one that does not fit one GPU)")
    parser.add_argument("--fsdp_config", default=None,
                        help="TrainingArguments.fsdp_config: a JSON file in source_dir, or JSON")
    parser.add_argument("--deepspeed", default=None,
                        help="a DeepSpeed config file in source_dir (e.g. ZeRO-3)")
    parser.add_argument("--merge_adapter", type=boolean, default=True,
                        help="save the base with the adapter merged in (else the adapter alone)")
    return parser.parse_args(argv)


def load_channel(folder: str):
    files = sorted(glob.glob(os.path.join(folder, "**", "*.json*"), recursive=True))
    if not files:
        sys.exit(f"sft.py: {folder} holds no .jsonl or .json file; give the channel a JSON Lines "
                 "file of `messages` conversations or `text` rows")
    return load_dataset("json", data_files=files, split="train")


def check_columns(dataset, text_column: str, channel: str) -> str:
    """The column SFTTrainer formats: `messages`, else the text column."""
    if "messages" in dataset.column_names:
        return "messages"
    if text_column in dataset.column_names:
        return text_column
    sys.exit(f"sft.py: the {channel} channel's rows have the columns "
             f"{', '.join(dataset.column_names)}, but need `messages` (a conversation: a list "
             f"of {{role, content}}) or `{text_column}` (plain text, --text_column)")


def texts(dataset, column: str):
    for row in dataset:
        if column == "messages":
            yield from (turn["content"] for turn in row["messages"])
        else:
            yield row[column]


def tiny_tokenizer(corpus) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the data (any text encodes; no unknown tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=1024, special_tokens=TINY_SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", chat_template=CHATML,
                                   model_max_length=512)


def tiny_model(tokenizer) -> AutoModelForCausalLM:
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=256,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=tokenizer.model_max_length,
                         bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def quantized(choice: str) -> bool:
    if choice != "auto":
        return choice == "4bit"
    if not torch.cuda.is_available():
        return False
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return False
    return True


def load_base(source: str, four_bit: bool, dtype):
    kwargs = {"dtype": dtype}
    if four_bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    return AutoModelForCausalLM.from_pretrained(source, **kwargs)


def model_length_limit(source: str, tokenizer) -> int:
    if source == TINY:
        return tokenizer.model_max_length
    return getattr(AutoConfig.from_pretrained(source), "max_position_embeddings", None) or \
        tokenizer.model_max_length


def check_before_training(args, source: str, column: str, tokenizer, limit: int) -> None:
    """Mistakes that would otherwise surface mid-training (or never), each one line."""
    if column == "messages" and not tokenizer.chat_template:
        sys.exit(f"sft.py: the base model {source} has no chat template, so its tokenizer "
                 "cannot format `messages`; use an instruct model (one with a chat template) or "
                 f"give the data as a `{args.text_column}` column")
    if args.max_seq_length is None:
        args.max_seq_length = min(DEFAULT_MAX_SEQ_LENGTH, limit)
    if args.max_seq_length > limit:
        sys.exit(f"sft.py: --max_seq_length {args.max_seq_length} is beyond the {limit} tokens "
                 f"the model {source} takes; set max_seq_length to {limit} or less")
    if source == TINY and args.use_lora and not args.merge_adapter:
        sys.exit("sft.py: --merge_adapter false keeps the adapter without its base, but the "
                 "tiny model is built here and exists nowhere else; keep merge_adapter true")


class LogLines(TrainerCallback):
    """Each log entry as one line, `<phase> step <n>/<total>` then `<name> <value>` pairs, so
    that a metric regex like `train_loss\\W+([-+0-9.eE]+)` finds the values."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and logs):
            return
        phase = ("eval" if any(key.startswith("eval_") for key in logs) else
                 "done" if "train_runtime" in logs else "train")
        pairs = [f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                 for key, value in logs.items() if key not in ("total_flos", "step")]
        print(f"{phase} step {state.global_step}/{state.max_steps}  " + "  ".join(pairs),
              flush=True)


def sharding(args) -> dict:
    """FSDP or DeepSpeed, as SageMaker users pass them: hyperparameters naming the Trainer's
    arguments, config files in source_dir (where the script runs)."""
    found = {}
    if args.fsdp:
        found["fsdp"] = args.fsdp
    if args.fsdp_config:
        found["fsdp_config"] = json.loads(args.fsdp_config) \
            if args.fsdp_config.lstrip().startswith("{") else args.fsdp_config
    if args.deepspeed:
        found["deepspeed"] = args.deepspeed
    for key in ("fsdp_config", "deepspeed"):
        path = found.get(key)
        if isinstance(path, str) and not os.path.isfile(path):
            sys.exit(f"sft.py: --{key} {path}: no such file beside sft.py; put the JSON file in "
                     "source_dir and name it relative to it")
    return found


def save_merged(trainer, args, source: str, four_bit: bool, model_dir: str) -> None:
    """The adapter folded into the base: a plain model the HF toolkit and vLLM load. A 4-bit
    base is loaded again in 16 bits for the merge."""
    model = trainer.model
    if four_bit:
        with tempfile.TemporaryDirectory() as adapter:
            model.save_pretrained(adapter)
            base = load_base(source, False, torch.bfloat16)
            model = PeftModel.from_pretrained(base, adapter)
    merged = model.merge_and_unload()
    merged.save_pretrained(model_dir)


@record
def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    env = read_contract(CONTRACT)
    source = os.environ.get("SM_CHANNEL_MODEL") or args.model_name
    train_dataset = load_channel(env["SM_CHANNEL_TRAIN"])
    column = check_columns(train_dataset, args.text_column, "train")
    test_dataset = None
    if os.environ.get("SM_CHANNEL_TEST"):
        test_dataset = load_channel(os.environ["SM_CHANNEL_TEST"])
        check_columns(test_dataset, args.text_column, "test")
    logger.info("model %s, %s GPU(s); train %d rows (%s)%s", source,
                os.environ.get("SM_NUM_GPUS", "0"), len(train_dataset), column,
                f", test {len(test_dataset)} rows" if test_dataset is not None else "")

    set_seed(args.seed)  # before any weights are made: a resumed job rebuilds the same base
    tokenizer = tiny_tokenizer(texts(train_dataset, column)) if source == TINY else \
        AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    check_before_training(args, source, column, tokenizer, model_length_limit(source, tokenizer))
    flags = precision(args.precision)
    four_bit = source != TINY and args.use_lora and quantized(args.quantization)
    dtype = torch.bfloat16 if flags["bf16"] else torch.float16 if flags["fp16"] else torch.float32
    model = tiny_model(tokenizer) if source == TINY else load_base(source, four_bit, dtype)
    if four_bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, args.gradient_checkpointing)

    checkpoints = checkpoint_folder()
    scratch = None if checkpoints else tempfile.TemporaryDirectory(prefix="sft-")
    config = SFTConfig(
        **trainer_arguments(args, checkpoints, scratch),
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        lr_scheduler_type=args.lr_scheduler_type,
        eval_strategy="epoch" if test_dataset is not None else "no",
        max_length=args.max_seq_length,
        packing=args.packing,
        dataset_text_field=args.text_column,
        assistant_only_loss=args.assistant_only_loss,
        gradient_checkpointing=args.gradient_checkpointing,
        **flags,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        **sharding(args),
    )
    logger.info("host %s of %s: process %d of %d (local %d)", os.environ.get("SM_CURRENT_HOST"),
                os.environ.get("SM_HOSTS"), config.process_index, config.world_size,
                config.local_process_index)
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules=args.lora_target_modules[0]
                      if args.lora_target_modules == ["all-linear"] else args.lora_target_modules,
                      modules_to_save=args.lora_modules_to_save or None, task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, train_dataset=train_dataset,
                         eval_dataset=test_dataset, processing_class=tokenizer,
                         peft_config=lora if args.use_lora else None,
                         callbacks=[MarkComplete(), LogLines()])
    trainer.remove_callback(PrinterCallback)
    if args.use_lora:
        trainable, total = trainer.model.get_nb_trainable_parameters()
        logger.info("LoRA r=%d on %s: %d of %d parameters trained (%.2f%%)%s", args.lora_r,
                    ",".join(args.lora_target_modules), trainable, total,
                    100 * trainable / total, ", 4-bit base (QLoRA)" if four_bit else "")
    else:
        logger.info("full fine-tuning: all %d parameters trained", trainer.model.num_parameters())
    kind = trainer.accelerator.distributed_type.value
    logger.info("distributed: %s over %d process(es)", kind, config.world_size)
    if args.fsdp and kind != "FSDP":
        logger.warning("--fsdp %s is not applied: accelerate runs FSDP on GPUs only, so these "
                       "processes train data-parallel (%s), each holding the whole model",
                       args.fsdp, kind)
    resume = latest_complete_checkpoint(checkpoints)
    if resume:
        logger.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = dict(result.metrics)
    if test_dataset is not None:
        metrics.update(trainer.evaluate())

    if trainer.is_world_process_zero():
        model_dir = os.environ["SM_MODEL_DIR"]
        if args.use_lora and args.merge_adapter:
            save_merged(trainer, args, source, four_bit, model_dir)
        else:  # an adapter's adapter_config.json names its base (base_model_name_or_path)
            trainer.model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        out = env["SM_OUTPUT_DATA_DIR"]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        with open(os.path.join(out, "log_history.json"), "w") as f:
            json.dump(trainer.state.log_history, f, indent=2)
        logger.info("final metrics: %s", "  ".join(
            f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
            for key, value in sorted(metrics.items())))
        saved = "model" if not args.use_lora else "merged model" if args.merge_adapter else \
            "adapter"
        logger.info("%s saved to %s on host %s", saved, model_dir,
                    os.environ.get("SM_CURRENT_HOST"))


if __name__ == "__main__":
    main()
    leave_process_group()
