"""The browser's secret behind gallery ownership: made once, kept in a cookie, adopted after a reload, never shown.

AppTest sessions have no browser, so the cookie the browser would send is put in
``st.context.cookies`` by hand; test_gallery_browser.py checks the real round trip.
"""

import pytest
from streamlit.runtime.context import ContextProxy, StreamlitCookies
from streamlit.testing.v1 import AppTest

from neurotunes.ui.visitor import COOKIE, VISITOR, is_valid_secret

GOOD = "Zx9" * 14 + "_"  # 43 base64url characters, like secrets.token_urlsafe(32)


def _app():
    import streamlit as st

    from neurotunes.ui.visitor import visitor_secret

    st.text(f"{len(visitor_secret())} characters")


@pytest.fixture
def browser_cookies(monkeypatch):
    """Set the cookies the (pretend) browser sent when it opened the session."""
    jar = {}
    monkeypatch.setattr(ContextProxy, "cookies", property(lambda self: StreamlitCookies(dict(jar))))
    return jar


def _cookie_scripts(at) -> list[str]:
    return [node.proto.body for node in at.sidebar if type(node).__name__ == "UnknownElement"
            and node.type == "html" and COOKIE in node.proto.body]


def _places_showing(at, secret) -> list[str]:
    """Every element whose content holds ``secret``, except a script (which the browser runs, never shows)."""
    found = []
    for block in (at.main, at.sidebar):
        for node in block:
            proto = getattr(node, "proto", None)
            if proto is None or secret not in str(proto):
                continue
            if node.type == "html" and proto.body.startswith("<script>") and proto.body.endswith("</script>"):
                continue
            found.append(node.type)
    return found


@pytest.mark.slow  # AppTest, like the page tests
def test_a_first_visit_makes_a_secret_and_writes_the_cookie(browser_cookies):
    at = AppTest.from_function(_app).run()
    assert not at.exception
    secret = at.session_state[VISITOR]
    assert is_valid_secret(secret)
    [script] = _cookie_scripts(at)
    assert f"{COOKIE}={secret}; path=/; max-age=" in script and "SameSite=Strict" in script
    assert '"https:" ? "; Secure"' in script
    assert _places_showing(at, secret) == []
    at.run()
    assert at.session_state[VISITOR] == secret  # the same session keeps it
    assert at.text[0].value == "43 characters"


@pytest.mark.slow  # AppTest, like the page tests
def test_a_new_session_adopts_the_cookie(browser_cookies):
    browser_cookies[COOKIE] = GOOD
    at = AppTest.from_function(_app).run()
    assert at.session_state[VISITOR] == GOOD
    assert _cookie_scripts(at) == []  # the browser already holds it: nothing to write
    assert _places_showing(at, GOOD) == []


@pytest.mark.slow
@pytest.mark.parametrize("planted", ["short", GOOD + "x", GOOD[:-1] + "!", '"; alert(1); "' + GOOD[:28]])
def test_a_cookie_that_is_not_ours_is_replaced(browser_cookies, planted):
    browser_cookies[COOKIE] = planted
    at = AppTest.from_function(_app).run()
    secret = at.session_state[VISITOR]
    assert secret != planted and is_valid_secret(secret)
    [script] = _cookie_scripts(at)
    assert planted not in script


def test_is_valid_secret():
    import secrets

    assert all(is_valid_secret(secrets.token_urlsafe(32)) for _ in range(50))
    assert not any(is_valid_secret(v) for v in (None, 42, "", GOOD + "=", GOOD.replace("_", "/")))
