"""deploy/: what can be checked on this machine is checked here: nginx -t on both nginx
configs, systemd-analyze verify on the unit, the compose file's services and wiring, and
the Dockerfile's inputs. (tests/streamer/test_nodes.py runs nginx-nodes.conf for real.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = "/usr/sbin/nginx"


def nginx_main(prefix: Path, site: Path) -> Path:
    """A main nginx.conf that includes one http-context file, as Debian's nginx does."""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {site};\n}}\n"
    )
    return conf


def nginx_test(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site.conf"
    site.write_text(text)
    conf = nginx_main(tmp_path, site)
    return subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def loopback_nodes(text: str, ports: tuple[int, int] = (18001, 18002)) -> str:
    """The compose service names resolve only inside compose: point them at loopback."""
    return text.replace("node-a:8000", f"127.0.0.1:{ports[0]}").replace(
        "node-b:8000", f"127.0.0.1:{ports[1]}"
    )


def test_the_single_machine_nginx_site_passes_nginx_t(tmp_path):
    res = nginx_test(tmp_path, (DEPLOY / "nginx-site.conf").read_text())
    assert res.returncode == 0, res.stderr
    assert "test is successful" in res.stderr


def test_the_nodes_nginx_config_passes_nginx_t_and_is_sticky_for_websockets(tmp_path):
    text = (DEPLOY / "nginx-nodes.conf").read_text()
    res = nginx_test(tmp_path, loopback_nodes(text))
    assert res.returncode == 0, res.stderr
    upstream = re.search(r"upstream yunlian_nodes \{(.*?)\}", text, re.S).group(1)
    assert "hash $remote_addr consistent" in upstream
    assert "Upgrade $http_upgrade" in text
    # a broken file is refused: the check can fail
    res = nginx_test(tmp_path, text.replace("proxy_pass", "proxy_passs", 1))
    assert res.returncode != 0


def test_the_systemd_unit_verifies(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is part of systemd"
    unit = (DEPLOY / "yunlian.service").read_text()
    exe = shutil.which("yunlian") or str(Path(ROOT / ".venv/bin/yunlian"))
    if not Path(exe).exists():  # the shared venv of this machine
        exe = "/work/main/.venv/bin/yunlian"
    local = tmp_path / "yunlian.service"
    local.write_text(unit.replace("/opt/yunlian/bin/yunlian", exe))
    res = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "Unknown" not in res.stderr and "ignoring" not in res.stderr, res.stderr
    assert "KillSignal=SIGINT" in unit and "Restart=always" in unit


def test_the_compose_file_names_two_nodes_postgres_redis_and_nginx():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "node-a", "node-b", "nginx"}
    ids = set()
    for name in ("node-a", "node-b"):
        env = services[name]["environment"]
        assert (
            env["YUNLIAN_DB"].startswith("postgresql+asyncpg://")
            and "@postgres:" in env["YUNLIAN_DB"]
        )
        assert env["YUNLIAN_REDIS_URL"] == "redis://redis:6379/0"
        assert env["YUNLIAN_NODE_SECRET"] and env["YUNLIAN_SECRET_KEY"]
        ids.add(env["YUNLIAN_NODE_ID"])
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert ids == {"node-a", "node-b"}
    mounts = services["nginx"]["volumes"]
    assert "./nginx-nodes.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    upstreams = set(
        re.findall(r"server (node-[ab]):8000", (DEPLOY / "nginx-nodes.conf").read_text())
    )
    assert upstreams == {"node-a", "node-b"}


def test_the_dockerfile_copies_what_exists_and_serves():
    text = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (\S+)", text, re.M):
        if src == "pyproject.toml":
            continue
        assert (ROOT / src).exists(), src
    assert re.search(r'^CMD \["yunlian", "serve"', text, re.M)
