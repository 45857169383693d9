"""The shared chain for model backends: stream tokens, cut phrases, ground, fall back.

A backend only implements `_stream(messages, max_tokens)` yielding text chunks. This class
cuts the chunks into phrases as they arrive, runs the grounding checker over each, rewrites
failing lines with the template writer, and falls back to the template writer entirely on a
timeout or any error. Counters: calls, fallbacks, errors, rewrites, lines.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime

from commerce.facts import ProductFacts
from scripts_gen.base import Answer, AnswerContext, Line, SegmentContext
from scripts_gen.dialect import apply_dialect
from scripts_gen.grounding import FactSheet, check_line
from scripts_gen.prompts import answer_messages, segment_messages
from scripts_gen.style import prosody, style_for
from scripts_gen.template import TemplateWriter

log = logging.getLogger(__name__)
MIN_LINES, MAX_LINES = 6, 12
_CUT = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]+")
_SOFT_CUT_AT = 40  # a phrase this long is cut at its last comma rather than waiting


class PhraseCutter:
    """Turns a stream of token chunks into whole phrases, as soon as each one ends."""

    def __init__(self):
        self._buf = ""

    def feed(self, chunk: str) -> list[str]:
        self._buf += chunk
        phrases = []
        while True:
            m = _CUT.match(self._buf)
            if m is None:
                break
            phrases.append(m[0])
            self._buf = self._buf[m.end() :]
        if len(self._buf) > _SOFT_CUT_AT and "，" in self._buf:
            cut = self._buf.rindex("，") + 1
            phrases.append(self._buf[:cut])
            self._buf = self._buf[cut:]
        return [p.strip() for p in phrases if p.strip()]

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []


class ModelWriter:
    """Base class of the `openai` and `transformers` backends (template as fallback)."""

    name = "model"

    def __init__(self, template: TemplateWriter, timeout: float = 3.0, max_tokens: int = 400):
        self.template = template
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.desk = template.desk
        self._counts = {"calls": 0, "fallbacks": 0, "errors": 0, "rewrites": 0, "lines": 0}
        self._counts["phrases"] = 0  # phrases received from the model, before checking
        self._counts["answer_calls"] = 0  # answers the model was asked to say
        self._counts["answers_used"] = 0  # answers said in the model's words
        self.last_error: str | None = None

    def _stream(self, messages: list[dict], max_tokens: int) -> AsyncIterator[str]:
        raise NotImplementedError

    async def _phrases(self, messages: list[dict], max_tokens: int) -> AsyncIterator[str]:
        """Phrases from the model; each wait for the next chunk is bounded by `timeout`."""
        cutter = PhraseCutter()
        chunks = aiter(self._stream(messages, max_tokens))
        while True:
            try:
                chunk = await asyncio.wait_for(anext(chunks), self.timeout)
            except StopAsyncIteration:
                break
            for phrase in cutter.feed(chunk):
                self._counts["phrases"] += 1
                yield phrase
        for phrase in cutter.flush():
            self._counts["phrases"] += 1
            yield phrase

    def _fail(self, exc: BaseException) -> None:
        self._counts["errors"] += 1
        self._counts["fallbacks"] += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("%s backend failed, falling back to template: %s", self.name, self.last_error)

    def _accept(
        self,
        phrase: str,
        product: ProductFacts,
        context: SegmentContext,
        sheet: FactSheet,
        before: str = "",
    ) -> Line | None:
        """The phrase as a grounded, styled line; None when it must be rewritten.

        `before` is what the model said just before: "适合宝宝。" then "蜂蜜水可以喝。" is one
        unsafe claim split over two phrases.
        """
        verdict = check_line(phrase, sheet, context=before)
        if not verdict.ok or verdict.problems:
            return None
        persona = style_for(context.persona)
        spoken = apply_dialect(verdict.text, persona.dialect, sheet.protected)
        now = context.now or datetime.now()
        if not self.template.recent.fresh(spoken, now):
            return None
        self.template.recent.remember(spoken, now)
        expression, rate, pitch = prosody(persona.id, context.mood, "feature")
        return Line(
            spoken, "script", product.sku, expression, rate, pitch, (f"catalog:{product.sku}",)
        )

    async def segment(self, product: ProductFacts, context: SegmentContext) -> AsyncIterator[Line]:
        self._counts["calls"] += 1
        if product.sold_out:
            return
        sheet = FactSheet.build([product], context.live_events)
        said = 0
        heard: list[str] = []  # the model's last phrases, accepted or not, as safety context
        try:
            async for phrase in self._phrases(segment_messages(product, context), self.max_tokens):
                if said >= MAX_LINES - 1:
                    break
                line = self._accept(phrase, product, context, sheet, "".join(heard[-2:]))
                heard.append(phrase)
                if line is None:
                    self._counts["rewrites"] += 1
                    line = self.template.rewrite(product, context, sheet)
                if line is not None:
                    said += 1
                    self._counts["lines"] += 1
                    yield line
        except Exception as exc:  # noqa: BLE001 - any backend failure means: fall back
            self._fail(exc)
            if said == 0:
                async for line in self.template.segment(product, context):
                    yield line
                return
        for section in ("cta", "closing") if said < MIN_LINES else ("closing",):
            line = self.template.render(product, section, context, sheet)
            if line is not None:
                yield line

    def render(self, product: ProductFacts, section: str, context: SegmentContext) -> Line | None:
        """A section said again from new facts: the template's grounded line (no model wait)."""
        return self.template.render(product, section, context)

    async def answer(self, question: str, context: AnswerContext) -> Answer:
        """Retrieval, facts and hand-off as the template desk; the model says the desk's answer
        in its own words, and its text is used when it passes the grounding checker.

        A safety question's reviewed answer is said as written: a model never rephrases it.
        """
        base = await self.template.answer(question, context)
        if base.handed_off or base.safety is not None or base.line is None:
            return base
        kb_sources = [s for s in base.sources if s in self.desk.kb.by_id]
        reference = self.desk.kb.by_id[kb_sources[0]].answer if kb_sources else base.text
        self._counts["answer_calls"] += 1
        products = [p for p in context.products if p.sku == base.product_sku] or context.products
        # the desk's own answer is a fact source too: its numbers were worked out from the sheet
        sheet = FactSheet.build(products, [base.text], [reference])
        messages = answer_messages(question, reference, context)
        try:
            parts = [p async for p in self._phrases(messages, 160)]
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return base
        verdict = check_line("".join(parts), sheet, context=question)
        if not verdict.ok or verdict.problems:
            self._counts["rewrites"] += 1
            return base
        style = style_for(context.persona)
        text = apply_dialect(verdict.text, style.dialect, sheet.protected)
        rate, pitch = base.line.rate, base.line.pitch
        line = Line(text, "answer", base.product_sku, "happy", rate, pitch, base.sources)
        self._counts["answers_used"] += 1
        return Answer(text, base.sources, base.confidence, False, base.product_sku, line)

    def stats(self) -> dict:
        return {"backend": self.name, **self._counts, "template": self.template.stats()}
