"""The `transformers` backend: a local model directory with a chat template, on CPU.

Weights load once, lazily, with `local_files_only` (nothing is ever downloaded). Generation
runs in a thread and streams through `TextIteratorStreamer`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from scripts_gen.model_writer import ModelWriter
from scripts_gen.template import TemplateWriter


class LocalModelWriter(ModelWriter):
    """Generates with `AutoModelForCausalLM` from `model_dir`."""

    name = "transformers"

    def __init__(
        self,
        template: TemplateWriter,
        model_dir: str | Path,
        timeout: float = 20.0,
        max_tokens: int = 200,
        temperature: float = 0.8,
    ):
        super().__init__(template, timeout, max_tokens)
        self.model_dir = Path(model_dir)
        self.temperature = temperature
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                if not self.model_dir.is_dir():
                    raise FileNotFoundError(f"model directory not found: {self.model_dir}")
                tok = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True)
                model.eval()
                self._tokenizer, self._model = tok, model
        return self._tokenizer, self._model

    async def _stream(self, messages: list[dict], max_tokens: int) -> AsyncIterator[str]:
        from transformers import TextIteratorStreamer

        tok, model = await asyncio.to_thread(self._load)
        inputs = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        streamer = TextIteratorStreamer(
            tok, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout
        )
        kwargs = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=max_tokens,
            do_sample=True,
            temperature=self.temperature,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        )
        thread = threading.Thread(target=model.generate, kwargs=kwargs, daemon=True)
        thread.start()
        chunks = iter(streamer)
        while (text := await asyncio.to_thread(next, chunks, None)) is not None:
            if text:
                yield text
