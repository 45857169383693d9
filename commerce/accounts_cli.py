"""`yunlian user ...`, `yunlian backup` and `yunlian restore` subcommands."""

from __future__ import annotations

import asyncio
import getpass
import sys

from commerce.cli import _db, _run
from commerce.errors import AccountError
from commerce.passwords import ROLES, random_password


def register(subparsers) -> None:
    """Add `user`, `backup` and `restore` to the `yunlian` argparse parser."""
    user = subparsers.add_parser("user", help="账号：添加、改密码、令牌、列表、停用")
    usub = user.add_subparsers(dest="user_cmd", required=True)
    add = usub.add_parser("add", help="添加账号")
    _db(add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES, help="admin/operator/cs/ops")
    add.add_argument("--shop", default=None, help="店铺 ID（农户账号默认 default）")
    add.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码")
    add.set_defaults(func=_add)
    passwd = usub.add_parser("passwd", help="修改密码（并退出该账号的所有登录）")
    _db(passwd)
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码")
    passwd.set_defaults(func=_passwd)
    token = usub.add_parser("token", help="为脚本创建 API 令牌（只显示一次）")
    _db(token)
    token.add_argument("username")
    token.add_argument("--scope", required=True, choices=ROLES, help="令牌权限（不高于账号角色）")
    token.add_argument("--name", default="", help="令牌名称，便于识别")
    token.set_defaults(func=_token)
    lst = usub.add_parser("list", help="列出账号")
    _db(lst)
    lst.set_defaults(func=_list)
    disable = usub.add_parser("disable", help="停用账号（立即退出登录，令牌失效）")
    _db(disable)
    disable.add_argument("username")
    disable.set_defaults(func=_disable)

    bk = subparsers.add_parser("backup", help="备份数据库（SQLite 在线备份 / pg_dump）")
    bk.add_argument("--db", default=None, help="数据库 URL（默认 sqlite:///./var/yunlian.db）")
    bk.add_argument("--out", default="./var/backups", help="备份目录（默认 ./var/backups）")
    bk.add_argument(
        "--secret-key",
        default=None,
        help="签名用的密钥（默认读 YUNLIAN_SECRET_KEY 或 var/yunlian.key）",
    )
    bk.set_defaults(func=_backup)
    rs = subparsers.add_parser(
        "restore", help="从备份恢复数据库：先验签名，服务须已停止，原库先另存，校验失败自动放回"
    )
    _db(rs)
    rs.add_argument("file", help="备份文件（.sqlite3 或 .pgdump）")
    rs.add_argument("--yes", action="store_true", help="不询问，直接覆盖目标数据库")
    rs.add_argument(
        "--force-unsigned",
        action="store_true",
        help="危险：恢复没有本服务器签名的备份（外来文件），不校验文件是否被改动",
    )
    rs.set_defaults(func=_restore)


def _err(message: str) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return 2


def _read_password(args, username: str) -> tuple[str | None, bool]:
    """(password, generated). stdin with --password-stdin, a prompt on a terminal, else a
    random password that the caller prints once. None after a mismatch."""
    if args.password_stdin:
        line = sys.stdin.readline(1024)
        return line.rstrip("\r\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass(f"{username} 的新密码（至少 10 个字符）：")
        second = getpass.getpass("再输入一次：")
        return (first, False) if first == second else (None, False)
    return random_password(), True


def _guard(body):
    """Run an account body; domain errors become a message and exit code 2."""

    async def run(store) -> int:
        try:
            return await body(store)
        except AccountError as e:
            return _err(e.reason)

    return run


def _add(args) -> int:
    password, generated = _read_password(args, args.username)
    if password is None:
        return _err("两次输入的密码不一致")

    async def body(store) -> int:
        u = await store.accounts.create_user(args.username, password, args.role, args.shop)
        await store.audit.record(
            "system", "user.create", f"user:{u.username}", after=_facts(u), user_agent="cli"
        )
        shop = f"，店铺 {u.shop_id}" if u.shop_id else ""
        print(f"已添加账号 {u.username}（{u.role}{shop}）")
        if generated:
            print(f"初始密码（只显示这一次，请妥善保存）：{password}")
        return 0

    return _run(args, _guard(body))


def _passwd(args) -> int:
    password, generated = _read_password(args, args.username)
    if password is None:
        return _err("两次输入的密码不一致")

    async def body(store) -> int:
        u = await store.accounts.set_password(args.username, password)
        await store.audit.record("system", "user.passwd", f"user:{u.username}", user_agent="cli")
        print(f"已修改 {u.username} 的密码，该账号的所有登录已退出")
        if generated:
            print(f"新密码（只显示这一次，请妥善保存）：{password}")
        return 0

    return _run(args, _guard(body))


def _token(args) -> int:
    async def body(store) -> int:
        u = await store.accounts.get_user(args.username)
        token = await store.accounts.create_token(u, args.scope, args.name)
        await store.audit.record(
            "system",
            "token.create",
            f"user:{u.username}",
            after={"scope": args.scope, "name": args.name, "prefix": token[:12]},
            user_agent="cli",
        )
        print(f"已为 {u.username} 创建 {args.scope} 权限的令牌（只显示这一次）：")
        print(token)
        return 0

    return _run(args, _guard(body))


def _list(args) -> int:
    async def body(store) -> int:
        users = await store.accounts.list_users()
        if not users:
            print("还没有账号（启动服务时会自动创建 admin）")
        for u in users:
            state = "已停用" if u.disabled else "正常"
            print(
                f"{u.username:32} {u.role:9} {u.shop_id or '-':12} {state}  {u.created_at:%Y-%m-%d}"
            )
        return 0

    return _run(args, _guard(body))


def _disable(args) -> int:
    async def body(store) -> int:
        u = await store.accounts.set_disabled(args.username, True)
        await store.audit.record(
            "system", "user.disable", f"user:{u.username}", after=_facts(u), user_agent="cli"
        )
        print(f"已停用账号 {u.username}：登录已退出，令牌已失效")
        return 0

    return _run(args, _guard(body))


def _facts(u) -> dict:
    return {"username": u.username, "role": u.role, "shop_id": u.shop_id, "disabled": u.disabled}


def _backup(args) -> int:
    from commerce.backup import backup
    from commerce.crypto import backup_key, load_secret
    from commerce.db import DEFAULT_URL

    try:
        key = backup_key(load_secret(args.secret_key))
        result = asyncio.run(backup(args.db or DEFAULT_URL, args.out, key=key))
    except AccountError as e:
        return _err(e.reason)
    except Exception as e:  # noqa: BLE001 - a CLI reports, it does not print tracebacks
        return _err(f"{type(e).__name__}: {e}")
    print(f"已备份到 {result.path}（{result.bytes / 1024:.1f} KiB，用时 {result.seconds:.2f} 秒）")
    print("提示：密钥（var/yunlian.key 或 YUNLIAN_SECRET_KEY）不在备份里，请另行妥善保管")
    return 0


UNSIGNED_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! 警告：--force-unsigned：这个备份没有本服务器的有效签名（{state}）。
!! 无法证明它没有被改动过：账号角色、订单金额、库存都可能被人改过。
!! 只恢复你确知来源的文件；恢复后请核对账号与订单。
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""
SEAL_NAMES = {
    "unsigned": "没有签名",
    "other_key": "另一个密钥的签名",
    "tampered": "签名不符，文件被改动过",
    "no_key": "没有密钥可校验",
}


def _restore(args) -> int:
    from commerce.crypto import existing_secret
    from commerce.db import DEFAULT_URL
    from commerce.restore import checked_backup, restore_checked

    url = args.db or DEFAULT_URL
    secret = existing_secret(args.secret_key)
    if secret is None:
        return _err(
            "找不到本服务器的密钥（var/yunlian.key 或 YUNLIAN_SECRET_KEY）：无法校验备份的签名，"
            "也无法校验恢复后的溯源日志。请用 --secret-key 指定"
        )

    async def main() -> int:
        async with checked_backup(args.file, secret, force_unsigned=args.force_unsigned) as bk:
            if bk.seal != "sealed":
                print(UNSIGNED_WARNING.format(state=SEAL_NAMES[bk.seal]), file=sys.stderr)
            else:
                print(f"备份签名校验通过：{bk.path}")
            if not args.yes:
                if not sys.stdin.isatty():
                    return _err("恢复会覆盖目标数据库：请加 --yes 确认（先停止服务）")
                question = f"将用 {bk.path}（版本 {bk.info.revision}）覆盖数据库，继续？[y/N] "
                answer = await asyncio.to_thread(input, question)
                if answer.strip().lower() not in ("y", "yes", "是"):
                    print("已取消")
                    return 1
            outcome = await restore_checked(bk, url, secret)
        return _report(bk.path, outcome)

    try:
        return asyncio.run(main())
    except AccountError as e:
        return _err(e.reason)
    except Exception as e:  # noqa: BLE001
        return _err(f"{type(e).__name__}: {e}")


def _report(path, outcome) -> int:
    aside = f"原数据库已另存为 {outcome.aside}" if outcome.aside else "目标位置原本没有数据库"
    if outcome.rolled_back:
        print(f"错误：恢复后校验失败：{outcome.problem}", file=sys.stderr)
        print(f"已放回原数据库，没有任何改动（{aside}）", file=sys.stderr)
        return 1
    report = outcome.report
    print(f"已恢复 {path}；{aside}")
    print(f"数据库版本 {report.revision}，已是最新")
    print(f"溯源日志校验通过：{report.trace_events} 条记录")
    print(f"订单 {report.orders} 个，商品 {report.products} 个，账号 {report.users} 个")
    return 0
