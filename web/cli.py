"""`yunlian` command line: serve the app, speak a line, and the domain packages' commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
import wave


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from web.app import Settings, create_app
    from web.settings import ConfigError, parse_workers, read_config

    try:
        settings = Settings.from_env()
        # `yunlian serve` runs rooms in one worker per core unless the flag, the environment
        # or a config file says otherwise (an app built in code keeps them in-process)
        workers = args.workers
        if workers is None and "workers" not in settings.model_fields_set:
            workers = "auto"
        if args.config:
            settings.load(args.config)
            if "workers" in read_config(args.config) and args.workers is None:
                workers = None
        if workers is not None:
            settings.workers = parse_workers(workers)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.db:
        settings.db_url = args.db
    if args.no_demo:
        settings.demo_room = False
        settings.demo_payments = False
    if args.online_voice:
        settings.online_voice = True
    if args.redis:
        settings.redis_url = args.redis
    if args.node_id:
        settings.node_id = args.node_id
    if args.janus_url:
        if not args.janus_url.startswith(("http://", "https://")):
            print("error: --janus-url must be an http:// or https:// URL", file=sys.stderr)
            return 2
        settings.janus_url = args.janus_url
    if settings.redis_url:
        if not (settings.db_url or "").startswith("postgresql"):
            print("error: --redis (several nodes) needs --db on PostgreSQL", file=sys.stderr)
            return 2
        if not settings.node_secret or len(settings.node_secret) < 16:
            print(
                "error: set YUNLIAN_NODE_SECRET (16+ characters, the same on every node)",
                file=sys.stderr,
            )
            return 2
        if not 2 <= settings.lease_ttl <= 300:
            print("error: YUNLIAN_LEASE_TTL must be between 2 and 300 seconds", file=sys.stderr)
            return 2
        if settings.node_id is not None and not re.fullmatch(
            r"[A-Za-z0-9_.-]{1,64}", settings.node_id
        ):
            print("error: --node-id must be 1-64 letters, digits, '.', '-' or '_'", file=sys.stderr)
            return 2
        if not settings.node_id:
            import socket

            settings.node_id = f"{socket.gethostname()}-{args.port}"
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    settings.listen_url = f"http://{shown_host}:{args.port}"
    try:
        app = create_app(settings)
    except ConfigError as exc:  # e.g. an unknown schedule time zone
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"云链销通 starting on http://{args.host}:{args.port} …", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        **settings.server_options(),
    )
    return 0


def _speak(args: argparse.Namespace) -> int:
    from avatars.personas import PERSONAS
    from avatars.voice import SAMPLE_RATE, ESpeakVoice

    text = args.text.strip()
    if not text:
        print("error: nothing to say (empty text)", file=sys.stderr)
        return 2
    if len(text) > 500:
        print("error: text longer than 500 characters", file=sys.stderr)
        return 2
    if args.persona not in PERSONAS:
        print(
            f"error: unknown persona {args.persona!r}; choose one of {', '.join(PERSONAS)}",
            file=sys.stderr,
        )
        return 2
    speech = ESpeakVoice().synthesize_sync(text, PERSONAS[args.persona])
    try:
        with open(args.out, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(speech.pcm.tobytes())
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {speech.duration:.2f} s, {len(speech.visemes)} visemes")
    return 0


def _config_check(args: argparse.Namespace) -> int:
    """Validate a config file alone, without serving: exit 0, or 2 with what is wrong."""
    from web.settings import ConfigError, check_config, read_config

    try:
        data = read_config(args.file)
        check_config(data, args.file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = ", ".join(sorted(data)) or "(none: all defaults)"
    print(f"配置有效 (config OK): {args.file}: {keys}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yunlian", description="云链销通: digital-human livestream selling"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web app with a live demo room")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite under ./var)")
    serve.add_argument(
        "--no-demo",
        action="store_true",
        help="no demo room and no payment simulator (production)",
    )
    serve.add_argument(
        "--config", default=None, help="JSON file: script backends, CORS, ICE servers, caps"
    )
    serve.add_argument(
        "--online-voice", action="store_true", help="try edge-tts first (falls back offline)"
    )
    serve.add_argument(
        "--workers",
        default=None,
        help="room worker processes: N, 'auto' (one per core, the default) or 0 (rooms in"
        " this process)",
    )
    serve.add_argument(
        "--redis",
        default=None,
        help="Redis URL: run as one node of several (needs --db on PostgreSQL)",
    )
    serve.add_argument("--node-id", default=None, help="this node's name (default: host:port)")
    serve.add_argument(
        "--janus-url",
        default=None,
        help="Janus's HTTP API: every room forwards to a mountpoint there "
        "(the admin key in YUNLIAN_JANUS_ADMIN_KEY)",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)

    config = sub.add_parser("config", help="the server's configuration file")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a JSON config file without serving")
    check.add_argument("file")
    check.set_defaults(func=_config_check)

    speak = sub.add_parser("speak", help="synthesize one line offline to a WAV file")
    speak.add_argument("text")
    speak.add_argument("--persona", default="xiaowang")
    speak.add_argument("--out", default="speech.wav")
    speak.set_defaults(func=_speak)

    # domain packages register their own commands
    for module in ("scripts_gen.cli", "commerce.cli", "commerce.accounts_cli", "danmaku.cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # the server logs its life; one-shot commands print only their result and warnings
    level = logging.INFO if args.func is _serve else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
