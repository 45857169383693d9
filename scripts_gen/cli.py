"""CLI: `yunlian script demo --product 大枣 --persona xiaowang`, `yunlian ask "核桃是薄皮的吗"`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from commerce.demo import DEMO_PRODUCTS, demo_product
from scripts_gen.base import AnswerContext, SegmentContext
from scripts_gen.factory import BACKENDS, make_writer
from scripts_gen.style import STYLES

MOODS = ("calm", "happy", "excited", "upset")


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--persona", default="xiaowang", choices=list(STYLES), help="主播")
    parser.add_argument("--backend", default="template", choices=BACKENDS)
    parser.add_argument(
        "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1"
    )
    parser.add_argument("--api-key")
    parser.add_argument("--model", default="gpt-4o-mini", help="model name for --backend openai")
    parser.add_argument("--model-dir", help="local model directory for --backend transformers")
    parser.add_argument("--timeout", type=float, default=3.0)


def _writer_config(args: argparse.Namespace) -> dict:
    config: dict = {"backend": args.backend}
    if args.backend == "openai":
        config |= {"base_url": args.base_url, "api_key": args.api_key, "model": args.model}
        config["timeout"] = args.timeout
    elif args.backend == "transformers":
        if not args.model_dir:
            raise ValueError("--backend transformers 需要 --model-dir")
        config |= {"model_dir": args.model_dir}
    return config


def _fail(message: str) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return 2


def _script_demo(args: argparse.Namespace) -> int:
    product = demo_product(args.product)
    if product is None:
        names = "、".join(p.name for p in DEMO_PRODUCTS)
        return _fail(f"没有这个商品：{args.product}（可选：{names}）")
    try:
        writer = make_writer(_writer_config(args))
    except ValueError as exc:
        return _fail(str(exc))
    context = SegmentContext(persona=args.persona, mood=args.mood, live_events=args.event or [])

    async def run() -> int:
        count = 0
        async for line in writer.segment(product, context):
            count += 1
            print(f"{line.text}    [{line.expression} ×{line.rate}]")
        if count == 0:
            print(f"{product.title}已售罄，跳过。")
        return 0

    code = asyncio.run(run())
    if args.backend != "template":
        print(f"# {writer.stats()}", file=sys.stderr)
    return code


def _ask(args: argparse.Namespace) -> int:
    if not args.question.strip():
        return _fail("问题是空的，请输入要问的内容")
    try:
        writer = make_writer(_writer_config(args))
    except ValueError as exc:
        return _fail(str(exc))
    current = demo_product(args.product) if args.product else None
    if args.product and current is None:
        return _fail(f"没有这个商品：{args.product}")
    context = AnswerContext(
        persona=args.persona, products=DEMO_PRODUCTS, current_sku=current and current.sku
    )
    answer = asyncio.run(writer.answer(args.question, context))
    print(answer.text)
    cited = "、".join(answer.sources) or "无"
    print(f"# 来源：{cited}  置信度：{answer.confidence:.2f}", file=sys.stderr)
    if answer.handed_off:
        print(f"# 已转人工客服，工单 {answer.ticket_id}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    """Add `script demo` and `ask` to the `yunlian` command."""
    script = subparsers.add_parser("script", help="生成带货话术")
    actions = script.add_subparsers(dest="script_action", metavar="ACTION")
    actions.required = True
    demo = actions.add_parser("demo", help="为一款商品生成一段话术")
    demo.add_argument("--product", required=True, help="商品名，如 大枣")
    demo.add_argument("--mood", default="calm", choices=MOODS)
    demo.add_argument("--event", action="append", help="实时动态，如 “只剩 20 箱了”，可重复")
    _backend_options(demo)
    demo.set_defaults(func=_script_demo)

    ask = subparsers.add_parser("ask", help="向AI客服提问")
    ask.add_argument("question", help="问题，如 “核桃是薄皮的吗”")
    ask.add_argument("--product", help="当前讲解的商品（问题里没提商品时用）")
    _backend_options(ask)
    ask.set_defaults(func=_ask)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yunlian")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
