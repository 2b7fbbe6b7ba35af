"""The app at phone width (390 x 844 and the like): a menu that closes, buttons in reach.

Two fixes, both in the browser, both for narrow screens only:

- **The menu closes after choosing a page.**  Below :data:`NARROW_PX` Streamlit's sidebar
  covers the page; Streamlit closes it after a page is chosen only when the browser says it is
  a phone (its user agent), so a narrow window, a tablet in split view or a phone asking for the
  desktop site kept a menu over the page it had just opened.  A click on a page link now closes
  it whatever the browser says (after Streamlit's own handling, and only if it is still open).
- **A page's main action stays in reach.**  At phone width every column stacks, and the
  Generate button ended 1,070 px down a 844 px screen, under eight settings.  Below
  :data:`PHONE_PX` (where Streamlit stacks columns) the button at the foot of a box of settings
  (:data:`STICKY_ACTION_KEYS`) sticks to the bottom of the screen while its box is in view, so
  Generate is above the fold on arrival and under the thumb while the settings scroll past.  The
  main action of a page without such a box (Dataset's Build dataset, Train's Train:
  :data:`MAIN_ACTION_KEYS`) stays at the screen's bottom.
"""

from __future__ import annotations

import streamlit as st

#: Streamlit stacks columns below 640 px: the width of a phone held upright.
PHONE_PX = 640
#: Below this width Streamlit's sidebar opens over the page instead of beside it.
NARROW_PX = 768
#: Buttons that are a page's one main action outside a form (their widget keys): at phone width they stay at the
#: bottom of the screen, like a form's primary button, so the page's action is in reach on arrival.
MAIN_ACTION_KEYS = ("nt_build_dataset", "nt_train_start")
#: The main buttons at the foot of a box of settings (Generate's, Evaluate's: their widget keys): at phone width
#: they stick to the bottom of the screen while their box is in view.
STICKY_ACTION_KEYS = ("nt_generate", "nt_evaluate")
#: How long after a page link's click the menu is looked at: Streamlit's own handling comes first.
SETTLE_MS = 150

_STYLE = f"""
@media (max-width: {PHONE_PX - 0.02}px) {{
  {", ".join(f".st-key-{key}" for key in STICKY_ACTION_KEYS)} {{
    position: sticky; bottom: 0.75rem; z-index: 3; pointer-events: none;
  }}
  {", ".join(f".st-key-{key} button" for key in STICKY_ACTION_KEYS)} {{
    pointer-events: auto; box-shadow: 0 4px 14px rgba(0, 0, 0, 0.55);
  }}
  {", ".join(f".st-key-{key}" for key in MAIN_ACTION_KEYS)} {{
    position: fixed; bottom: 0.75rem; right: 1rem; width: auto !important; z-index: 3;
  }}
  {", ".join(f".st-key-{key} button" for key in MAIN_ACTION_KEYS)} {{
    box-shadow: 0 4px 14px rgba(0, 0, 0, 0.55);
  }}
}}
"""

_SCRIPT = f"""
(function () {{
  if (window.neurotunesPhone) return;  // one listener per page load, however often the app reruns
  window.neurotunesPhone = true;
  document.addEventListener("click", function (event) {{
    if (!event.target.closest('[data-testid="stSidebarNavLink"]') || window.innerWidth >= {NARROW_PX}) return;
    setTimeout(function () {{
      const menu = document.querySelector('[data-testid="stSidebar"]');
      const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (menu && close && menu.getAttribute("aria-expanded") === "true") close.click();
    }}, {SETTLE_MS});
  }}, true);
}})();
"""


def phone_layout() -> None:
    """Add the phone-width style and the menu's closing script to the page (an empty box at the sidebar's end)."""
    # st.html runs the script in the page itself (not in an iframe), where the sidebar and its links are.
    st.sidebar.html(f"<style>{_STYLE}</style><script>{_SCRIPT}</script>", unsafe_allow_javascript=True,
                    width="content")
