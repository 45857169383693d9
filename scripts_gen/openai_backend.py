"""The `openai` backend: any OpenAI-compatible chat-completions endpoint, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai

from scripts_gen.model_writer import ModelWriter
from scripts_gen.template import TemplateWriter


class OpenAIWriter(ModelWriter):
    """Streams from OpenAI, DeepSeek, Qwen/DashScope, Ollama or vLLM by base URL."""

    name = "openai"

    def __init__(
        self,
        template: TemplateWriter,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str = "gpt-4o-mini",
        timeout: float = 3.0,
        temperature: float = 0.8,
        max_tokens: int = 400,
    ):
        super().__init__(template, timeout, max_tokens)
        self.model = model
        self.temperature = temperature
        # no retries: a slow or failing endpoint must fall back quickly, not be hammered
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
        )

    async def _stream(self, messages: list[dict], max_tokens: int) -> AsyncIterator[str]:
        stream = await self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            max_tokens=max_tokens,
            temperature=self.temperature,
        )
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    async def aclose(self) -> None:
        await self.client.close()
