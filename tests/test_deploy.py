"""deploy/: the load balancer configurations are valid for the installed nginx and HAProxy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pg_cluster import REQUIRE_ENV

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _filled(template: str, workdir: Path) -> Path:
    text = (DEPLOY / template).read_text()
    for key, value in {
        "@LB_PORT@": "18080",
        "@REPLICA1_PORT@": "18501",
        "@REPLICA2_PORT@": "18502",
        "@WORKDIR@": str(workdir),
    }.items():
        text = text.replace(key, value)
    assert "@" not in text.replace("%[srv_name]", "")
    out = workdir / template.removesuffix(".in")
    out.write_text(text)
    return out


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None and Path(f"/usr/sbin/{binary}").exists():
        path = f"/usr/sbin/{binary}"
    if path is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{binary} is missing; .ci/run installs it")
        pytest.skip(f"{binary} is not installed")
    return path


def test_haproxy_config_is_valid(tmp_path):
    """haproxy -c accepts the filled-in configuration (cookie stickiness, health checks)."""
    binary = _need("haproxy")
    conf = _filled("haproxy.cfg.in", tmp_path)
    done = subprocess.run([binary, "-c", "-f", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cookie QVREPLICA insert" in conf.read_text()


def test_nginx_config_is_valid(tmp_path):
    """nginx -t accepts the filled-in configuration (websocket upgrade, ip_hash stickiness)."""
    binary = _need("nginx")
    conf = _filled("nginx.conf.in", tmp_path)
    done = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "syntax is ok" in done.stderr
