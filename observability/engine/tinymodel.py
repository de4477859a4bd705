"""A tiny Llama made on the spot for a real CPU vLLM: no download, cached per recipe.

Random weights in float32 (2 layers, hidden 128, 2 heads so head_dim 64: vLLM's CPU
attention backend rejects head_dim 16; in bfloat16 vLLM 0.32's CPU worker died of SIGILL
(exit -4) on the first request on the development VM), a byte-level BPE tokenizer trained with `tokenizers` on a
small generated corpus, and a chat template, so `/v1/completions` and
`/v1/chat/completions` both answer. What it says is noise; what the engine does with it
(scheduling, KV cache, prefill/decode, metrics) is the real thing.

The build runs in the engine's virtualenv (`.venv-vllm`: torch, transformers, tokenizers)
as `python tinymodel.py build OUT`: this file imports nothing of obsctl, so the engine's
interpreter runs it by path. `ensure_tiny_model()` (obsctl's side) builds once into
`$XDG_CACHE_HOME/obsctl/tiny-llama-<hash of this file>` (default `~/.cache`) and reuses it;
a changed recipe gets a new directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["CHAT_TEMPLATE", "build", "cache_root", "ensure_tiny_model", "recipe_hash"]

HIDDEN = 128
LAYERS = 2
HEADS = 2  # head_dim = HIDDEN / HEADS = 64
INTERMEDIATE = 256
VOCAB = 1000
MAX_POSITIONS = 2048
SEED = 1234
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
_TEXT = (
    "the model serves tokens from a cache while the scheduler batches requests on every "
    "step prometheus scrapes metrics and alerts page the engineer on call latency grows "
    "when the queue waits for free blocks kubernetes runs pods on nodes with gpus a prompt "
    "is prefilled then decoded one token at a time observability explains what happened "
    "explain write summarise describe list translate give how what why short story train "
    "night alps french revolution haiku python function sorted lists histogram quantile"
)


def recipe_hash() -> str:
    """Changes whenever this file (the recipe) changes."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "obsctl"


def ensure_tiny_model(python: Path, timeout: float = 300.0) -> Path:
    """The cached tiny model's directory, built first (by `python`, the engine's
    interpreter) when absent. Concurrent callers wait on one lock; the build goes to a
    temporary directory renamed into place, so a killed build leaves nothing half-made."""
    from observability import tmpdirs  # here: this file also runs alone, in .venv-vllm

    root = cache_root()
    out = root / f"tiny-llama-{recipe_hash()}"
    if (out / "config.json").is_file():
        return out
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".tiny-llama.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "config.json").is_file():
            return out
        tmp = tmpdirs.staging_dir(out)
        try:
            proc = subprocess.run(
                [str(python), str(Path(__file__).resolve()), "build", str(tmp)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if proc.returncode != 0:
                lines = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise RuntimeError("building the tiny model failed: " + " | ".join(lines))
            tmp.rename(out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return out


def _corpus(n: int = 4000) -> list[str]:
    rng, words_ = random.Random(SEED), _TEXT.split()
    lines = []
    for _ in range(n):
        words = [rng.choice(words_) for _ in range(rng.randint(4, 24))]
        lines.append(" ".join(words).capitalize() + rng.choice((".", "?", "!", ",")))
    return lines


def build(out: Path) -> None:
    """Write config, random weights, tokenizer and chat template to `out` (engine venv)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=MAX_POSITIONS,
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    fast.save_pretrained(out)
    with contextlib.suppress(OSError):  # transformers versions differ on where it lands
        (out / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        sys.exit("usage: python tinymodel.py build OUT_DIR")
    build(Path(sys.argv[2]))
