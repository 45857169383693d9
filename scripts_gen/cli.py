"""CLI: `yunlian script demo --product 大枣 --persona xiaowang`, `yunlian ask "核桃是薄皮的吗"`.

Both read the shop's products from its database (`--db`, default the store `yunlian serve`
uses: SQLite at ./var/yunlian.db), so they agree with `yunlian shop products`. A missing SQLite
file is refused with a message, never created. `commerce` is imported here only, lazily, and
only to read fact sheets: scripts_gen depends on nothing but `commerce.facts` at import time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from commerce.facts import ProductFacts
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
    parser.add_argument("--db", default=None, help="数据库 URL（默认 sqlite:///./var/yunlian.db）")
    parser.add_argument(
        "--secret-key", default=None, help="密钥（默认读 YUNLIAN_SECRET_KEY 或 var/yunlian.key）"
    )


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


class ShopUnavailable(Exception):
    """The shop's database cannot be read; the message says why, in Chinese."""


def _missing_sqlite_file(url: str) -> str | None:
    """The SQLite file a URL names, when it does not exist (reading must not create a shop)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        if not Path(u.database).exists():
            return u.database
    return None


def load_products(db: str | None, secret_key: str | None = None) -> list[ProductFacts]:
    """The shop's live fact sheets from its database; ShopUnavailable with a reason if not."""
    from commerce.db import DEFAULT_URL

    url = db or DEFAULT_URL
    try:
        missing = _missing_sqlite_file(url)
    except Exception as exc:  # noqa: BLE001 - a malformed URL is a user error
        raise ShopUnavailable(f"数据库 URL 不正确：{exc}") from None
    if missing:
        raise ShopUnavailable(
            f"找不到数据库 {missing}（先运行 make run / yunlian serve，或用 --db 指定）"
        )

    async def read() -> list[ProductFacts]:
        from commerce import open_store

        store = await open_store(url, seed_demo=False, secret_key=secret_key, background=False)
        try:
            return list(await store.fact_sheets())
        finally:
            await store.close()

    try:
        return asyncio.run(read())
    except Exception as exc:  # noqa: BLE001 - a CLI reports, it does not print tracebacks
        raise ShopUnavailable(f"读取商品失败：{type(exc).__name__}: {exc}") from None


def find(products: Sequence[ProductFacts], name_or_sku: str) -> ProductFacts | None:
    """A product by SKU, short name or title."""
    for p in products:
        if name_or_sku in (p.sku, p.name, p.title):
            return p
    return None


def _products(args: argparse.Namespace) -> list[ProductFacts] | int:
    try:
        products = load_products(args.db, args.secret_key)
    except ShopUnavailable as exc:
        return _fail(str(exc))
    if not products:
        return _fail("店里还没有商品（先运行 make run / yunlian serve 导入演示商品）")
    return products


def _script_demo(args: argparse.Namespace) -> int:
    products = _products(args)
    if isinstance(products, int):
        return products
    product = find(products, args.product)
    if product is None:
        names = "、".join(p.name for p in products)
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
    products = _products(args)
    if isinstance(products, int):
        return products
    current = find(products, args.product) if args.product else None
    if args.product and current is None:
        return _fail(f"没有这个商品：{args.product}")
    context = AnswerContext(
        persona=args.persona, products=products, current_sku=current and current.sku
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
