"""The gateway's `/status` page (issue 19): a real `tandem gateway` in front of a real `tandem serve`
of SmolLM2 (model `smol`) and of a deployment that is down (model `offline`), after a few
requests; the page is rendered by headless Chromium (Debian's `chromium`), its DOM checked for the
deployments' names and numbers against the gateway's own `/metrics`, and its screenshot read back
with OCR (`tesseract`) for the same names and numbers. Behind the admin key when one is set."""
import json
import re
import shutil
import subprocess
import tempfile
from hashlib import sha256
from pathlib import Path

import httpx
import pytest

from conftest import Gateway, closed_port_url

KEY = "sk-status"


def config(dep_url, admin_key_file=None):
    c = {
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json",
        "limits": {"max_body_bytes": 1048576, "request_timeout_ms": 120000},
        "upstream": {"connect_timeout_ms": 1000, "read_timeout_ms": 120000},
        "tenants": {"acme": {"requests_per_minute": 6000, "tokens_per_minute": 10000000, "max_concurrent": 8,
                             "allowed_models": ["*"], "budget_per_day": 5.0}},
        "models": [
            {"name": "smol", "cost_per_token": 0.001,
             "deployments": [{"url": dep_url, "kind": "coordinator", "upstream_model": "m"}]},
            {"name": "offline", "deployments": [{"url": closed_port_url(), "kind": "coordinator", "upstream_model": "m"}]},
        ],
    }
    if admin_key_file:
        c["admin_key_file"] = admin_key_file
    return c


def start_gateway(dep_url, admin_key=None):
    d = Path(tempfile.mkdtemp(prefix="tandem-gw-status-"))
    (d / "keys.json").write_text(json.dumps({"keys": [{"id": "k", "tenant": "acme", "sha256": sha256(KEY.encode()).hexdigest()}]}))
    if admin_key:
        (d / "admin.key").write_text(admin_key + "\n")
        (d / "admin.key").chmod(0o600)
    return Gateway(config(dep_url, "admin.key" if admin_key else None), d)


@pytest.fixture(scope="module")
def gw(dep):
    g = start_gateway(dep.url)
    client = g.client(KEY, timeout=120)
    for i in range(3):
        client.chat.completions.create(model="smol", messages=[{"role": "user", "content": f"Count to {i + 3}."}],
                                       max_tokens=8, temperature=0)
    with pytest.raises(Exception):
        client.chat.completions.create(model="offline", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    r = httpx.post(g.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                   json={"model": "smol", "messages": [{"role": "user", "content": "Hi"}], "bogus_field": 1})
    assert r.status_code == 400
    yield g
    g.stop()


def metric(text, name, **labels):
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    assert found, f"{name} {labels} not in /metrics"
    return total


def cells(html, table_id):
    """The rows of the table with this id, as lists of cell texts (tags stripped)."""
    m = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert m, f"no table {table_id}"
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]


def test_status_shows_deployments_models_tenants_and_errors(gw):
    r = httpx.get(gw.url + "/status", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<meta http-equiv="refresh"' in html
    assert not re.search(r'(src|href)="https?:', html), "the page must not load anything from elsewhere"
    metrics = httpx.get(gw.url + "/metrics", timeout=30).text
    deployments = {row[0]: row for row in cells(html, "deployments")[1:]}
    smol, offline = deployments["smol"], deployments["offline"]
    assert smol[4] == "up" and smol[5] == "healthy" and offline[4] == "down"
    used = metric(metrics, "tandem_engine_kv_blocks_used", model="smol")
    total = metric(metrics, "tandem_engine_kv_blocks_total", model="smol")
    assert smol[7] == f"{used:.0f} / {total:.0f}"
    models = {row[0]: row for row in cells(html, "models")[1:]}
    assert models["smol"][2] == "ready" and models["offline"][2].startswith("unavailable")
    assert models["smol"][3] == f"{metric(metrics, 'tandem_requests_total', model='smol', status='200'):.0f}" == "3"
    assert models["smol"][8] == f"{metric(metrics, 'tandem_generated_tokens_total', model='smol'):.0f}"
    tenants = {row[0]: row for row in cells(html, "tenants")[1:]}
    spend = metric(metrics, "tandem_tenant_spend_dollars_total", tenant="acme")
    assert spend > 0 and tenants["acme"][4] == f"${spend:.4f}"
    assert tenants["acme"][5].endswith("/ $5.0000")
    errors = cells(html, "errors")[1:]
    statuses = sorted(row[1] for row in errors)
    assert "400" in statuses and any(s.startswith("5") for s in statuses), errors
    assert any("bogus_field" in row[5] for row in errors)


def test_status_in_headless_chromium_and_its_screenshot(gw, tmp_path):
    chromium = shutil.which("chromium")
    tesseract = shutil.which("tesseract")
    if not chromium or not tesseract:
        import os
        reason = "chromium and tesseract-ocr are needed (deploy/install-deps.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1600,1100"]
    dom = subprocess.run(flags + ["--dump-dom", gw.url + "/status"], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    metrics = httpx.get(gw.url + "/metrics", timeout=30).text
    total = metric(metrics, "tandem_engine_kv_blocks_total", model="smol")
    rendered = {row[0]: row for row in cells(dom.stdout, "deployments")[1:]}
    assert set(rendered) == {"smol", "offline"}
    assert rendered["smol"][7].endswith(f"/ {total:.0f}")
    shot = tmp_path / "status.png"
    out = subprocess.run(flags + [f"--screenshot={shot}", gw.url + "/status"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and shot.exists() and shot.stat().st_size > 10000, out.stderr[-2000:]
    ocr = subprocess.run([tesseract, str(shot), "-"], capture_output=True, text=True, timeout=120)
    assert ocr.returncode == 0, ocr.stderr[-2000:]
    text = ocr.stdout
    for word in ("Tandem gateway", "Deployments", "smol", "offline", "acme", "healthy", "down"):
        assert word in text, (word, text[:3000])
    assert f"{total:.0f}" in text, text[:3000]
    shutil.copy(shot, Path(tempfile.gettempdir()) / "tandem-status.png")  # for a person to look at


def test_status_needs_the_admin_key_when_one_is_set(dep):
    g = start_gateway(dep.url, admin_key="admin-secret-0123456789abcdef0123456789")
    try:
        assert httpx.get(g.url + "/status", timeout=30).status_code == 401
        assert httpx.get(g.url + "/status", headers={"Authorization": f"Bearer {KEY}"}, timeout=30).status_code == 401
        r = httpx.get(g.url + "/status", headers={"Authorization": "Bearer admin-secret-0123456789abcdef0123456789"}, timeout=30)
        assert r.status_code == 200 and "smol" in r.text
    finally:
        g.stop()


def test_the_grafana_dashboard_queries_metrics_the_gateway_exports(gw):
    """deploy/grafana/tandem-gateway.json: every metric its queries name is one the running gateway
    serves on /metrics (its own families and the coordinators' re-exported ones), or, for a counter
    that only appears once it has counted something, one the sources register by that name."""
    root = Path(__file__).resolve().parent.parent
    dash = json.loads((root / "deploy" / "grafana" / "tandem-gateway.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 12
    names = {re.sub(r"_(bucket|sum|count)$", "", n) for e in exprs for n in re.findall(r"\btandem_[a-z_]+", e)}
    served = {re.sub(r"_(bucket|sum|count|total)$", "", m.group(1))
              for m in re.finditer(r"^(tandem_[a-z_]+)", httpx.get(gw.url + "/metrics", timeout=30).text, re.M)}
    sources = "\n".join(p.read_text() for p in (root / "Sources").rglob("*.swift"))
    for name in sorted(names):
        base = re.sub(r"_total$", "", name)
        assert base in served or f'"{name}"' in sources, f"{name}: neither served nor registered"
    assert {"tandem_engine_kv_usage_ratio", "tandem_tenant_spend_dollars_total", "tandem_requests_total"} <= names
