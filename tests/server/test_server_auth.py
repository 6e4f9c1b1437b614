"""Every endpoint needs an authenticated user; browser (cookie) POSTs need the XSRF token."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

ENDPOINTS = [("GET", "models"), ("GET", "models/churn"), ("GET", "runs"),
             ("GET", "runs/compare?ids=a,b"), ("GET", "lineage?ref=churn"),
             ("GET", "runs/0123456789abcdef0123456789abcdef/notebook"),
             ("GET", "runs/0123456789abcdef0123456789abcdef/gate-report"),
             ("POST", "models/churn/aliases"), ("POST", "models/churn/aliases/champion/rollback"),
             ("GET", "pipelines"), ("POST", "pipelines/run")]


def url(port: int, base: str, path: str) -> str:
    return f"http://localhost:{port}{base}nbops/api/{path}"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_no_token_is_403(jp_fetch, jp_http_port, jp_base_url, seeded, method, path):
    body = json.dumps({"alias": "champion", "version": "3"}) if method == "POST" else None
    with pytest.raises(HTTPClientError) as e:
        await AsyncHTTPClient().fetch(url(jp_http_port, jp_base_url, path), method=method,
                                      body=body)
    assert e.value.code == 403


async def login_cookies(port: int, base: str, token: str) -> SimpleCookie:
    """Log in like a browser (``/?token=``) and keep the cookies it sets."""
    resp = await AsyncHTTPClient().fetch(f"http://localhost:{port}{base}?token={token}",
                                         follow_redirects=False, raise_error=False)
    cookies: SimpleCookie = SimpleCookie()
    for header in resp.headers.get_list("Set-Cookie"):
        cookies.load(header)
    resp = await AsyncHTTPClient().fetch(f"http://localhost:{port}{base}api/status",
                                         headers={"Cookie": header_of(cookies)})
    for header in resp.headers.get_list("Set-Cookie"):
        cookies.load(header)
    return cookies


def header_of(cookies: SimpleCookie) -> str:
    return "; ".join(f"{k}={m.value}" for k, m in cookies.items())


async def test_browser_post_without_xsrf_is_403_and_with_it_is_audited(
        jp_fetch, jp_serverapp, jp_http_port, jp_base_url, seeded, client):
    cookies = await login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    assert any(k.startswith("username-") for k in cookies), "login cookie not set"
    body = json.dumps({"alias": "champion", "version": "3", "reason": "from a browser"})
    target = url(jp_http_port, jp_base_url, "models/churn/aliases")
    plain = {k: m for k, m in cookies.items() if k != "_xsrf"}
    no_xsrf: SimpleCookie = SimpleCookie()
    for k, m in plain.items():
        no_xsrf[k] = m.value
    with pytest.raises(HTTPClientError) as e:
        await AsyncHTTPClient().fetch(target, method="POST", body=body,
                                      headers={"Cookie": header_of(no_xsrf)})
    assert e.value.code == 403
    assert str(client.get_registered_model("churn").aliases["champion"]) == "2"

    # the same request as JupyterLab sends it: _xsrf cookie echoed in X-XSRFToken
    xsrf = cookies["_xsrf"].value
    resp = await AsyncHTTPClient().fetch(target, method="POST", body=body,
                                         headers={"Cookie": header_of(cookies),
                                                  "X-XSRFToken": xsrf})
    assert resp.code == 200
    assert json.loads(resp.body)["entry"]["reason"] == "from a browser"
    assert str(client.get_registered_model("churn").aliases["champion"]) == "3"
