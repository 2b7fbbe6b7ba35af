"""Which browser is this: a secret kept in a cookie, so a visitor can delete the gallery tracks they saved.

The secret is made on a first visit, kept in ``st.session_state`` for the
session and written to a cookie by a few lines of JavaScript; a later page load
(a refresh, a new tab) reads the cookie back through ``st.context.cookies``, which
holds the cookies of the request that opened the session.  The gallery stores only
the secret's hash.  The secret is never shown on the page.
"""

from __future__ import annotations

import json
import re
import secrets

import streamlit as st

VISITOR = "nt_visitor"  # session-state key: this browser's secret
COOKIE = "neurotunes_visitor"
SECRET_BYTES = 32
SECRET_CHARS = 43  # len(secrets.token_urlsafe(32)): 32 bytes in unpadded base64url
COOKIE_MAX_AGE_S = 400 * 24 * 60 * 60  # Chrome caps a cookie's lifetime at 400 days anyway
_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{SECRET_CHARS}}}")


def is_valid_secret(value: object) -> bool:
    """Whether ``value`` looks like a secret this module made (43 base64url characters)."""
    return isinstance(value, str) and _SECRET.fullmatch(value) is not None


def visitor_secret() -> str:
    """This browser's secret: adopted from its cookie, or made now and written to the cookie.

    While the browser's cookie does not hold the secret, each call adds an
    invisible element to the sidebar whose script writes it.
    """
    secret = st.session_state.get(VISITOR)
    cookie = st.context.cookies.get(COOKIE)
    if not is_valid_secret(secret):
        # A cookie that is not one of ours (edited, truncated, planted) is ignored, not trusted.
        secret = cookie if is_valid_secret(cookie) else secrets.token_urlsafe(SECRET_BYTES)
        st.session_state[VISITOR] = secret
    if cookie != secret:
        # st.context.cookies keeps the session's opening request, so this repeats every run of
        # a new visitor's first session: harmless, the script writes the same cookie again.
        _write_cookie(secret)
    return secret


def _write_cookie(secret: str) -> None:
    # st.html runs the script in the page itself (not in an iframe), so document.cookie is the
    # app's own cookie jar, which the browser sends with the next session's websocket request.
    # At the sidebar's end its empty box moves nothing on the page.
    script = (
        "<script>document.cookie = " + json.dumps(f"{COOKIE}={secret}; path=/; max-age={COOKIE_MAX_AGE_S}; "
                                                  "SameSite=Strict")
        + ' + (location.protocol === "https:" ? "; Secure" : "");</script>'
    )
    st.sidebar.html(script, unsafe_allow_javascript=True, width="content")
