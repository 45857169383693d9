"""CLI: `yunlian danmaku analyze [--backend embedded|transformers] [--model-dir DIR]`.

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
    """Add `danmaku analyze` to the `yunlian` command."""
    danmaku = subparsers.add_parser("danmaku", help="弹幕分析")
    actions = danmaku.add_subparsers(dest="danmaku_action", metavar="ACTION")
    actions.required = True
    analyze = actions.add_parser(
        "analyze", help="逐行读取标准输入的弹幕，输出情感与意图（每行一个 JSON）"
    )
    analyze.add_argument("--backend", default="embedded", choices=BACKENDS)
    analyze.add_argument("--model-dir", help="--backend transformers 的本地模型目录")
    analyze.set_defaults(func=_analyze)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yunlian")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
