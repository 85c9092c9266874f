"""The screens' blueprint and pages: command centre (/command), squad tablet (/tablet), zone planner (/planner)."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from dispatch.http.web.i18n import DEFAULT, LANGUAGES, strings

bp = Blueprint("web", "dispatch.http.web", template_folder="templates")  # its templates: dispatch/http/web/templates
LANG_COOKIE = "lang"


def current_language() -> str:
    """``?lang=`` first (and remembered in a cookie), then the cookie, then Chinese."""
    lang = request.args.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


def _page(template: str, screen: str, **context):
    lang = current_language()
    catalogue = strings(lang)
    settings = {
        "screen": screen,
        "lang": lang,
        # An optional raster base layer (an intranet Tianditu proxy, say); our own layers work without it.
        "tile_url": current_app.config.get("TILE_URL") or os.environ.get("TILE_URL") or None,
        "tile_attribution": os.environ.get("TILE_ATTRIBUTION", ""),
    }
    other = "en" if lang == "zh" else "zh"
    response = current_app.make_response(
        render_template(
            template,
            t=catalogue,
            lang=lang,
            other_lang=other,
            catalogue=catalogue,
            settings=settings,
            screen=screen,
            **context,
        )
    )
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@bp.get("/")
def index():
    return redirect(url_for("web.command"))


@bp.get("/command")
def command():
    """The command centre: live map, incident queue with SLA countdowns, recommendations, dispatch."""
    return _page("web/command.html", "command")


@bp.get("/tablet")
def tablet():
    """A squad's tablet: sign in with its token, the current task, lifecycle buttons, offline queue."""
    return _page("web/tablet.html", "tablet")


@bp.get("/planner")
def planner():
    """The coverage-zone planner: draft, edit, validate, compare, publish."""
    return _page("web/planner.html", "planner")
