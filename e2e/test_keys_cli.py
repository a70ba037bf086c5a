"""`tandem keys add|revoke|list` on a running gateway's keys file: a key made by the command is
served after SIGHUP, an expired one is refused with a 401 that says so, a revoked one is refused,
and the keys the file held before keep working (official `openai` client)."""
import subprocess
import time

import pytest
from openai import AuthenticationError

from tandemkit import tandem_bin

MESSAGES = [{"role": "user", "content": "hi"}]


def keys(*args):
    r = subprocess.run([tandem_bin(), "keys", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def status(gw, key):
    """200, or the status the gateway refused the key with."""
    try:
        gw.client(key=key).chat.completions.create(model="small", messages=MESSAGES, max_tokens=2)
        return 200
    except AuthenticationError as e:
        return e.status_code


def until(gw, key, wanted, deadline=15):
    end = time.time() + deadline
    while status(gw, key) != wanted:
        assert time.time() < end, f"key still not answered with {wanted} after the reload"
        time.sleep(0.2)


def test_keys_made_expired_and_revoked_through_the_command(fresh_gateway):
    gw = fresh_gateway
    path = gw.config["keys_file"]
    new = keys("add", "--file", path, "--tenant", "acme", "--id", "cli").strip()
    assert new.startswith("sk-tandem-") and new not in open(path).read()
    old = keys("add", "--file", path, "--tenant", "acme", "--id", "past", "--expires", "2020-01-01").strip()
    gw.reload()
    until(gw, new, 200)
    with pytest.raises(AuthenticationError) as e:
        gw.client(key=old).chat.completions.create(model="small", messages=MESSAGES, max_tokens=2)
    assert "expired on 2020-01-01" in str(e.value)
    listing = keys("list", "--file", path)
    assert "cli\tacme\tno expiry" in listing and "past\tacme\texpired 2020-01-01" in listing
    keys("revoke", "--file", path, "--id", "cli")
    gw.reload()
    until(gw, new, 401)
    assert status(gw, "sk-acme") == 200
    bad = subprocess.run([tandem_bin(), "keys", "revoke", "--file", path, "--id", "cli"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no key with id 'cli'" in bad.stderr
