"""The audit log holds (issue 16, failure 9): every staff action has its own name, failed
logins and logouts are recorded, `X-Forwarded-For` counts only from configured proxies, and
the database, backups, the key and the first admin password are the server user's alone."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from commerce.backup import backup
from commerce.crypto import load_secret
from commerce.order_state import PUBLIC_TRANSITIONS
from testkit.livesrv import LiveServer, free_port
from web.middleware import UNSAFE, action_name
from web.security import forwarded_ip, iter_routes, rule_for
from web.settings import ConfigError, Settings

SPOOFED = "203.0.113.66"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "y.db"
    with LiveServer(path, stamp=False, demo_room=False, demo_payments=True) as s:
        yield s


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def audit(server, **query) -> list[dict]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), timeout=30) as a:
        res = await a.get("/api/audit", params=query)
    assert res.status_code == 200, res.text
    return res.json()


def test_every_staff_action_has_its_own_audit_name(server):
    names: dict[str, str] = {}
    for method, path in iter_routes(server.app):
        rule = rule_for(path, method)
        if method not in UNSAFE or rule is None:
            continue
        variants = PUBLIC_TRANSITIONS if "{transition}" in path else (None,)
        for transition in variants:
            name = action_name(method, path, {"transition": transition} if transition else {})
            what = f"{method} {path} {transition or ''}".strip()
            assert name not in names, f"{what} and {names.get(name)} share the name {name}"
            names[name] = what
    assert names["shop.orders.approve_refund"].endswith("approve_refund")
    assert names["shop.orders.create"] == "POST /api/shop/orders"


async def test_refund_approval_is_logged_as_refund_approval(server):
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as anon,
        httpx.AsyncClient(base_url=server.url, headers=server.headers("cs"), timeout=30) as cs,
    ):
        body = {
            "buyer": {"id": "b1", "name": "李四", "phone": "13912340001", "address": "阜平县1号"},
            "items": [{"sku": "fp-honey-500g", "quantity": 1}],
        }
        order = (
            await anon.post("/api/shop/orders", json=body, headers={"Idempotency-Key": "k1"})
        ).json()
        oid, token = order["id"], {"X-Order-Token": order["order_token"]}
        pay = (await anon.post(f"/api/shop/orders/{oid}/payments", headers=token)).json()
        assert (await anon.post(f"/api/shop/payments/{pay['payment_id']}/confirm")).is_success
        assert (await anon.post(f"/api/shop/orders/{oid}/request_refund", headers=token)).is_success
        res = await cs.post(f"/api/shop/orders/{oid}/approve_refund")
        assert res.status_code == 200, res.text
    [entry] = await audit(server, target=f"/api/shop/orders/{oid}/approve_refund")
    assert (entry["action"], entry["actor"], entry["role"]) == (
        "shop.orders.approve_refund",
        "cs-main",
        "cs",
    )
    assert not await audit(server, action="shop.orders.create", actor="cs-main")


async def test_failed_logins_and_logouts_are_logged(server):
    name, password = server.user("operator", name="farmer-log")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        res = await http.post("/api/auth/login", json={"username": name, "password": "错的密码"})
        assert res.status_code == 401
        res = await http.post(
            "/api/auth/login", json={"username": "nobody\u202e", "password": "x" * 300}
        )
        assert res.status_code == 422  # refused before it is a login attempt: nothing to log
        res = await http.post("/api/auth/login", json={"username": name, "password": password})
        assert res.status_code == 200, res.text
        csrf = res.json()["csrf"]
        res = await http.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
        assert res.status_code == 200
        assert (await http.get("/api/auth/me")).json()["role"] is None
    [failed] = await audit(server, action="auth.login_failed", target=name)
    assert failed["actor"] == "anonymous" and failed["after"] == {"reason": "bad_credentials"}
    assert failed["ip"] == "127.0.0.1"
    [logout] = await audit(server, action="auth.logout", actor=name)
    assert (logout["role"], logout["ip"]) == ("operator", "127.0.0.1")
    actions = [e["action"] for e in await audit(server, target=name)]
    assert actions == ["auth.logout", "auth.login", "auth.login_failed"]


async def test_forwarded_for_counts_only_from_a_configured_proxy(server):
    settings = server.app.state.settings
    spoof = {"X-Forwarded-For": SPOOFED}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        body = {"username": "ghost-of-xff", "password": "wrong-password"}
        assert (await http.post("/api/auth/login", json=body, headers=spoof)).status_code == 401
        settings.trusted_proxies = ["127.0.0.0/8"]  # this test's client is the proxy now
        try:
            body["username"] = "via-proxy"
            res = await http.post(
                "/api/auth/login",
                json=body,
                headers={"X-Forwarded-For": f"198.51.100.1, {SPOOFED}"},
            )
            assert res.status_code == 401
        finally:
            settings.trusted_proxies = []
    [direct] = await audit(server, action="auth.login_failed", target="ghost-of-xff")
    assert direct["ip"] == "127.0.0.1"
    [proxied] = await audit(server, action="auth.login_failed", target="via-proxy")
    assert proxied["ip"] == SPOOFED  # the hop the trusted proxy saw; not the client's claim


@pytest.mark.parametrize(
    ("peer", "header", "want"),
    [
        ("10.0.0.5", "203.0.113.7", "10.0.0.5"),  # untrusted peer: its header is ignored
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "1.1.1.1, 203.0.113.7", "203.0.113.7"),  # the client wrote 1.1.1.1
        ("127.0.0.1", "203.0.113.7, 127.0.0.2", "203.0.113.7"),  # two proxies in a row
        ("127.0.0.1", "1.1.1.1, not-an-ip", "127.0.0.1"),  # garbage ends the walk
        ("127.0.0.1", "<script>, \x00", "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", ", " * 5000 + "203.0.113.7", "203.0.113.7"),
        ("::1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_forwarded_ip_walks_only_trusted_hops(peer, header, want):
    assert forwarded_ip(peer, header, ("127.0.0.0/8", "::1")) == want


def test_trusted_proxies_must_be_addresses(tmp_path):
    conf = tmp_path / "c.json"
    for bad in (["evil.example"], "127.0.0.1", [7], ["10.0.0.0/33"], ["1.2.3.4\n"]):
        conf.write_text(json.dumps({"trusted_proxies": bad}))
        with pytest.raises(ConfigError):
            Settings().load(conf)
    conf.write_text('{"trusted_proxies": ["10.0.0.0/8", "::1"]}')
    s = Settings()
    s.load(conf)
    assert s.trusted_proxies == ["10.0.0.0/8", "::1"]
    conf.write_text('{"admin_password_file": ["/etc/passwd"]}')
    with pytest.raises(ConfigError):
        Settings().load(conf)


async def test_database_backups_and_key_are_private(server, tmp_path):
    old = os.umask(0o022)  # the usual umask, which would leave new files 0644
    try:
        db = Path(server.store.url.split("///", 1)[1])
        assert mode(db) == 0o600
        wal = db.with_name(db.name + "-wal")
        assert not wal.exists() or mode(wal) == 0o600
        result = await backup(server.store.url, tmp_path / "backups")
        assert mode(result.path) == 0o600 and result.bytes > 0
        assert mode(tmp_path / "backups") == 0o700
        key = tmp_path / "var" / "yunlian.key"
        assert load_secret(None, key) and mode(key) == 0o600
        key.chmod(0o644)  # a key left readable by an older version is narrowed on load
        load_secret(None, key)
        assert mode(key) == 0o600
    finally:
        os.umask(old)


def test_first_admin_password_goes_to_a_private_file_not_stdout(tmp_path, capsys):
    db = tmp_path / "first" / "y.db"
    settings = {"stamp": False, "demo_room": False, "public_url": "http://127.0.0.1:1"}
    with LiveServer(db, **settings) as s:
        out = capsys.readouterr().out
        secret = db.parent / "admin-password.txt"
        assert mode(secret) == 0o600
        name, password = secret.read_text().split()
        assert name == "admin" and len(password) >= 12
        assert str(secret) in out and password not in out
        res = httpx.post(
            s.url + "/api/auth/login", json={"username": name, "password": password}, timeout=30
        )
        assert res.status_code == 200 and res.json()["role"] == "admin"
    secret.unlink()
    with LiveServer(db, **settings):  # an admin exists: no new password, no file, no message
        out = capsys.readouterr().out
    assert not secret.exists() and "admin-password" not in out


def test_yunlian_serve_keeps_its_secrets_and_ignores_a_spoofed_forwarded_for(tmp_path):
    """`yunlian serve` as run by hand in an empty directory: the first admin password lands
    in a 0600 file (stdout names the file), the database and key are 0600, and a loopback
    client's X-Forwarded-For is not what the audit log stores."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNLIAN_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    cmd = [sys.executable, "-m", "web.cli", "serve", "--no-demo", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        secret = tmp_path / "var" / "admin-password.txt"
        name, password = secret.read_text().split()
        body = {"username": "admin", "password": "wrong-password"}
        res = httpx.post(
            url + "/api/auth/login", json=body, headers={"X-Forwarded-For": SPOOFED}, timeout=30
        )
        assert res.status_code == 401
        with httpx.Client(base_url=url, timeout=30) as admin:
            res = admin.post("/api/auth/login", json={"username": name, "password": password})
            assert res.status_code == 200, res.text
            [failed] = admin.get("/api/audit", params={"action": "auth.login_failed"}).json()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert failed["ip"] == "127.0.0.1"
    for private in (secret, tmp_path / "var" / "yunlian.db", tmp_path / "var" / "yunlian.key"):
        assert mode(private) == 0o600, private
    assert "admin-password.txt" in out and password not in out
