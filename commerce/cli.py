"""`yunlian trace ...` and `yunlian shop ...` subcommands."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def register(subparsers) -> None:
    """Add the `trace` and `shop` subcommands to the `yunlian` argparse parser."""
    trace = subparsers.add_parser("trace", help="溯源日志：校验、证明")
    tsub = trace.add_subparsers(dest="trace_cmd", required=True)
    verify = tsub.add_parser("verify", help="重算全部哈希与签名，报告被改动或删除的记录")
    _db(verify)
    verify.add_argument("--json", action="store_true", help="输出 JSON")
    verify.set_defaults(func=_verify)
    show = tsub.add_parser("show", help="显示一个批次的溯源记录")
    _db(show)
    show.add_argument("batch_id")
    show.set_defaults(func=_show)

    shop = subparsers.add_parser("shop", help="商城：商品、过期订单")
    ssub = shop.add_subparsers(dest="shop_cmd", required=True)
    products = ssub.add_parser("products", help="列出商品与实时库存")
    _db(products)
    products.set_defaults(func=_products)
    expire = ssub.add_parser("expire", help="取消超时未支付的订单并释放库存")
    _db(expire)
    expire.set_defaults(func=_expire)
    daily = ssub.add_parser("daily-report", help="经营日报：某一天的销售、场次与预警")
    _db(daily)
    daily.add_argument("--day", default=None, help="日期 YYYY-MM-DD（默认昨天，北京时间）")
    daily.add_argument(
        "--html",
        default=None,
        metavar="FILE",
        help="另存为可直接发邮件的 HTML 文件（- 为标准输出）",
    )
    daily.set_defaults(func=_daily_report)

    demo = subparsers.add_parser("demo-data", help="生成演示用的历史订单（可复现）")
    _db(demo)
    demo.add_argument("--years", type=float, default=2.0, help="覆盖的年数（默认 2）")
    demo.add_argument("--customers", type=int, default=5000, help="客户数（默认 5000）")
    demo.add_argument("--orders", type=int, default=None, help="订单数（默认 客户数×年数×3）")
    demo.add_argument("--seed", type=int, default=7, help="随机种子（同一种子生成同样的数据）")
    demo.set_defaults(func=_demo_data)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, help="数据库 URL（默认 sqlite:///./var/yunlian.db）")
    p.add_argument(
        "--secret-key", default=None, help="密钥（默认读 YUNLIAN_SECRET_KEY 或 var/yunlian.key）"
    )


def _missing_sqlite_file(url: str | None) -> str | None:
    """The SQLite file a URL names, when it does not exist (a CLI must not create an empty shop)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from commerce.db import DEFAULT_URL

    u = make_url(url or DEFAULT_URL)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        if not Path(u.database).exists():
            return u.database
    return None


def _run(args, body) -> int:
    from commerce.store import open_store

    try:
        missing = _missing_sqlite_file(args.db)
    except Exception as e:  # noqa: BLE001 - a malformed URL is a user error
        print(f"错误：数据库 URL 不正确：{e}", file=sys.stderr)
        return 2
    if missing:
        print(
            f"错误：找不到数据库 {missing}（先运行 make run / yunlian serve，或用 --db 指定）",
            file=sys.stderr,
        )
        return 2

    async def main() -> int:
        store = await open_store(
            args.db, seed_demo=False, secret_key=args.secret_key, background=False
        )
        try:
            return await body(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except Exception as e:  # noqa: BLE001 - a CLI reports, it does not print tracebacks
        print(f"错误：{type(e).__name__}: {e}", file=sys.stderr)
        return 2


def _verify(args) -> int:
    async def body(store) -> int:
        report = await store.trace.verify()
        if args.json:
            print(
                json.dumps(
                    {
                        "ok": report.ok,
                        "events": report.events,
                        "checkpoints": report.checkpoints,
                        "problems": report.problems,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            for p in report.problems:
                print(f"✗ {p}")
            state = "通过" if report.ok else f"失败（{len(report.problems)} 处问题）"
            print(f"溯源日志校验{state}：{report.events} 条记录，{report.checkpoints} 个签名检查点")
        return 0 if report.ok else 1

    return _run(args, body)


def _show(args) -> int:
    async def body(store) -> int:
        view = await store.trace.batch_view(args.batch_id)
        print(f"{view['product']}  批次 {view['batch_id']}  地块 {view['origin_plot']}")
        for ev in view["events"]:
            print(
                f"  #{ev['index']} {ev['occurred_at'][:10]} {ev['label']} {json.dumps(ev['details'], ensure_ascii=False)}"
            )
        return 0

    return _run(args, body)


def _products(args) -> int:
    async def body(store) -> int:
        for f in await store.fact_sheets():
            print(f"{f.sku:20} {f.title:10} ¥{f.price}/{f.unit} 库存 {f.stock} {f.promo or ''}")
        return 0

    return _run(args, body)


def _expire(args) -> int:
    async def body(store) -> int:
        n = await store.orders.expire_unpaid()
        print(f"已取消 {n} 个超时未支付订单")
        return 0

    return _run(args, body)


def _daily_report(args) -> int:
    from pathlib import Path

    from commerce.analytics.daily import daily_report, parse_report_day, render_html
    from commerce.analytics.service import Analytics
    from commerce.errors import CommerceError

    made: list[dict] = []

    async def body(store) -> int:
        svc = Analytics(store)
        try:
            made.append(await daily_report(svc, parse_report_day(args.day, svc.today())))
        except CommerceError as e:
            print(f"错误：{e.reason}", file=sys.stderr)
            return 2
        return 0

    code = _run(args, body)
    if code or not made:
        return code or 2
    if args.html == "-":
        print(render_html(made[0]))
    elif args.html:
        try:
            Path(args.html).write_text(render_html(made[0]), encoding="utf-8")
        except OSError as e:
            print(f"错误：无法写入 {args.html}：{e.strerror}", file=sys.stderr)
            return 2
        print(f"已写入 {args.html}", file=sys.stderr)
    else:
        print(json.dumps(made[0], ensure_ascii=False, indent=2))
    return 0


def _demo_data(args) -> int:
    if not 0 < args.years <= 10:
        print("错误：--years 必须在 0 到 10 之间", file=sys.stderr)
        return 2
    if not 1 <= args.customers <= 2_000_000 or (
        args.orders is not None and not 1 <= args.orders <= 20_000_000
    ):
        print("错误：--customers 或 --orders 超出范围", file=sys.stderr)
        return 2

    async def main() -> int:
        from commerce.analytics.history import HistoryExists, generate
        from commerce.store import open_store

        store = await open_store(args.db, secret_key=args.secret_key, background=False)
        try:
            r = await generate(
                store,
                years=args.years,
                customers=args.customers,
                orders=args.orders,
                seed=args.seed,
            )
        except HistoryExists as e:
            print(f"错误：{e}", file=sys.stderr)
            return 1
        finally:
            await store.close()
        print(
            f"已生成 {r.orders} 个订单（{r.lines} 行商品），{r.customers} 位买家，"
            f"{r.first_day} 至 {r.last_day}，用时 {r.seconds} 秒"
        )
        return 0

    try:
        return asyncio.run(main())
    except Exception as e:  # noqa: BLE001 - a CLI reports, it does not print tracebacks
        print(f"错误：{type(e).__name__}: {e}", file=sys.stderr)
        return 2
