"""CLI: `yunlian danmaku analyze [--backend embedded|transformers] [--model-dir DIR]`,
`yunlian danmaku export-labels [--db URL] [--out FILE]` (operators' corrections) and
`yunlian danmaku train [--labels FILE | --db URL] [--write]` (retrain, report both held-out
scores, and replace the model only with --write).

Reads one comment a line on stdin and writes one JSON object a line, for every input line
(empty lines too, as neu/other), so output line N always belongs to input line N.
"""

from __future__ import annotations

import argparse
import json
import sys

from danmaku.analysis import BACKENDS, make_analyzer

CHUNK = 512  # lines analysed per batch: fast, and output flows while input is still coming


def _fail(message: str) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return 2


def _analyze(args: argparse.Namespace) -> int:
    config: dict = {"backend": args.backend}
    if args.backend == "transformers":
        if not args.model_dir:
            return _fail("--backend transformers 需要 --model-dir（本地模型目录）")
        config["model_dir"] = args.model_dir
    try:
        analyzer = make_analyzer(config)
    except ValueError as exc:
        return _fail(str(exc))
    out = sys.stdout
    pending: list[str] = []

    def flush() -> None:
        for text, a in zip(pending, analyzer.analyze_many(pending), strict=True):
            row = {"text": text, "sentiment": a.sentiment, "score": a.score, "intent": a.intent}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
        pending.clear()

    # bytes in, decoded leniently: invalid UTF-8 becomes U+FFFD instead of a crash
    for raw in sys.stdin.buffer:
        pending.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        if len(pending) >= CHUNK:
            flush()
    flush()
    return 0


def register(subparsers) -> None:
    """Add the `danmaku` actions to the `yunlian` command."""
    danmaku = subparsers.add_parser("danmaku", help="弹幕分析")
    actions = danmaku.add_subparsers(dest="danmaku_action", metavar="ACTION")
    actions.required = True
    analyze = actions.add_parser(
        "analyze", help="逐行读取标准输入的弹幕，输出情感与意图（每行一个 JSON）"
    )
    analyze.add_argument("--backend", default="embedded", choices=BACKENDS)
    analyze.add_argument("--model-dir", help="--backend transformers 的本地模型目录")
    analyze.set_defaults(func=_analyze)

    export = actions.add_parser("export-labels", help="导出客服/运营更正过的弹幕标签（JSONL）")
    _db_args(export)
    export.add_argument("--out", default="-", help="输出文件（默认标准输出）")
    export.set_defaults(func=_export_labels)

    train = actions.add_parser(
        "train", help="用内置训练集加上更正重新训练，先报告两个留出集的分数；--write 才启用新模型"
    )
    _db_args(train)
    train.add_argument("--labels", help="更正文件（export-labels 的输出）；不给则读数据库")
    train.add_argument("--out", default=None, help="新模型写到哪里（默认替换内置模型）")
    train.add_argument("--write", action="store_true", help="报告分数后写出新模型")
    train.set_defaults(func=_train)

    replay = actions.add_parser("replay", help="把录下的弹幕（JSONL）按原来的节奏发进一个直播间")
    replay.add_argument(
        "file", help="JSONL: one message a line (type, user_id, nickname, text, ts)"
    )
    replay.add_argument("--room", default="demo", help="直播间 id（默认 demo）")
    replay.add_argument("--url", default="http://127.0.0.1:8000", help="服务器地址")
    replay.add_argument("--speed", type=float, default=1.0, help="播放倍速；0 = 尽快")
    replay.set_defaults(func=_replay)


def _db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, help="数据库 URL（默认 sqlite:///./var/yunlian.db）")
    p.add_argument(
        "--secret-key", default=None, help="密钥（默认读 YUNLIAN_SECRET_KEY 或 var/yunlian.key）"
    )


def _read_corrections(args) -> list[dict] | int:
    from commerce.cli import _run

    got: list[dict] = []

    async def body(store) -> int:
        got.extend(await store.danmaku_labels.export())
        return 0

    code = _run(args, body)
    return got if code == 0 else code


def _export_labels(args) -> int:
    rows = _read_corrections(args)
    if isinstance(rows, int):
        return rows
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{len(rows)} 条更正写入 {args.out}", file=sys.stderr)
    return 0


def _train(args) -> int:
    from pathlib import Path

    from danmaku.analysis import build

    if args.labels:
        try:
            lines = Path(args.labels).read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
        except (OSError, ValueError) as exc:
            return _fail(f"读不了更正文件：{exc}")
    else:
        got = _read_corrections(args)
        if isinstance(got, int):
            return got
        rows = got
    build.retrain(rows, Path(args.out) if args.out else build.ARTIFACT, args.write)
    return 0


def _replay(args) -> int:
    """Post a recorded room's comments through the public danmaku API, with their spacing."""
    import asyncio

    import httpx

    from danmaku.messages import Comment
    from danmaku.sources.replay import ReplaySource

    if args.speed < 0:
        print("错误：--speed 不能为负数", file=sys.stderr)
        return 2
    try:
        open(args.file, "rb").close()
    except OSError as exc:
        print(f"错误：无法读取 {args.file}：{exc.strerror}", file=sys.stderr)
        return 2

    async def run() -> tuple[int, int, int]:
        source = ReplaySource(args.file, args.room, speed=args.speed)
        sent = refused = 0
        url = f"{args.url.rstrip('/')}/api/rooms/{args.room}/danmaku"
        async with httpx.AsyncClient(timeout=10) as http:
            async for msg in source.messages():
                if not isinstance(msg, Comment):
                    continue  # gifts, likes and arrivals come from platforms, not this API
                body = {"user_id": msg.user_id, "nickname": msg.nickname, "text": msg.text}
                res = await http.post(url, json=body)
                if res.status_code == 404:
                    raise LookupError(res.json().get("detail", "no such room"))
                sent += res.status_code == 202
                refused += res.status_code != 202
        return sent, refused, source.skipped

    try:
        sent, refused, skipped = asyncio.run(run())
    except (httpx.HTTPError, LookupError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(f"已发送 {sent} 条弹幕，被拒 {refused} 条，跳过格式错误的 {skipped} 行")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yunlian")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
