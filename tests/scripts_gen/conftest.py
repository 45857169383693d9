"""Fixtures for scripts_gen tests: a loopback OpenAI server and a tiny local chat model."""

import json
from pathlib import Path

import pytest

from scripts_gen.loopback import LoopbackOpenAI

LYING_SCRIPT = (
    "阜平大枣今天只要9块9一斤！",
    "我们的大枣有有机认证，是全网最好吃的。",
    "个大肉厚，皮薄核小。",
    "产地在河北保定阜平县龙泉关镇。",
    "还剩下999斤，吃了能降血压。",
    "喜欢的点下面的购物车。",
)


@pytest.fixture
def openai_server():
    with LoopbackOpenAI(script=LYING_SCRIPT, slow_seconds=1.5) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 1-layer Llama with random weights and a character-level tokenizer built here."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    root = Path(__file__).resolve().parents[2] / "scripts_gen" / "data"
    corpus = (root / "templates.json").read_text(encoding="utf-8")
    chars = sorted({c for c in corpus if not c.isspace()} | set("0123456789。，！？\n"))
    specials = ["<unk>", "<pad>", "<s>", "</s>"]
    vocab = {tok: i for i, tok in enumerate(specials + [c for c in chars if c not in specials])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }}:{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        pad_token_id=1,
        bos_token_id=2,
        eos_token_id=3,
    )
    out = tmp_path_factory.mktemp("tiny-chat-model")
    LlamaForCausalLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    return out
