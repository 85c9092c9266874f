"""The top navigation: the screens the signed-in role may use, and nothing else.

The guide's rule: every role lands on its own screen (``dispatch.http.auth.landing``, ``home_for``)
and sees only the actions it may take. A role's screens are those whose endpoint the permission
matrix (``dispatch.accounts.PERMISSIONS`` through ``dispatch.http.auth.ENDPOINT_ACTIONS``) lets it
open, so the menu never offers a screen the server would refuse; a screen whose route is not
registered is left out. The tablet is a squad's screen (it signs in with the squad's token): people
do not get it in their menu.

``context()`` feeds every template (the screens' base.html, the supervisor's pages, the 403 page):
``nav`` (key, href, label, current), ``home_url``, ``nav_t`` (the strings in the page's language),
``signed_in`` (a person's session: the menu offers signing out).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, has_request_context, request, url_for

from dispatch.accounts import allowed
from dispatch.http.auth import action_for, home_for
from dispatch.http.web.i18n import DEFAULT, LANGUAGES, strings


@dataclass(frozen=True)
class Screen:
    key: str  # the label is ``nav.<key>`` in dispatch.http.web.i18n
    endpoint: str


# In the menu's order.
SCREENS = (
    Screen("command", "web.command"),
    Screen("planner", "web.planner"),
    Screen("supervisor", "oversight.pages.supervisor_page"),
    Screen("meetings", "oversight.meeting_pages.meetings_page"),
    Screen("campaigns", "oversight.meeting_pages.campaigns_page"),
)
TABLET = Screen("tablet", "web.tablet")


def menu(role: str | None) -> list[Screen]:
    """The screens ``role`` may open, in order (a squad: its tablet; nobody signed in: none)."""
    if role is None:
        return []
    if role == "squad":
        return [TABLET]
    return [
        s for s in SCREENS if s.endpoint in current_app.view_functions and allowed(role, action_for(s.endpoint, "GET"))
    ]


def _language() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang") or DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


def context() -> dict:
    if not has_request_context():
        return {}
    principal = getattr(g, "principal", None)
    role = principal.role if principal is not None else None
    lang = _language()
    t = strings(lang)
    here = request.endpoint
    return {
        "nav": [
            {"key": s.key, "href": url_for(s.endpoint), "label": t[f"nav.{s.key}"], "current": s.endpoint == here}
            for s in menu(role)
        ],
        "home_url": home_for(role) if role else url_for("auth.login_form"),
        "nav_t": t,
        "nav_lang": lang,
        "signed_in": principal is not None and principal.kind == "account",
    }
