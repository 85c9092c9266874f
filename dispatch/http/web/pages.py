"""The screens' blueprint and pages: command centre (/command), squad tablet (/tablet), zone planner (/planner)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from dispatch.accounts import PERMISSIONS, allowed
from dispatch.http.auth import current_principal, home_for
from dispatch.http.web import navigation
from dispatch.http.web.i18n import DEFAULT, LANGUAGES, strings

bp = Blueprint("web", "dispatch.http.web", template_folder="templates")  # its templates: dispatch/http/web/templates
bp.app_context_processor(navigation.context)  # the menu of the role's screens, on every page
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
        # what the signed-in role may do (dispatch.accounts.PERMISSIONS): the scripts show only those controls
        "may": sorted(a for a in PERMISSIONS if a != "public" and allowed(_role(), a)),
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


def _role() -> str | None:
    principal = current_principal()
    return principal.role if principal is not None else None


@bp.get("/")
def index():
    """Each role to its own screen (dispatch.http.auth.HOME)."""
    return redirect(home_for(_role()))


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


# The tablet's service worker and manifest: served from the site's root so the worker's scope can
# cover /tablet (a worker under /static/ could only control /static/...).


_SHELL_FILES = ("app/tablet.js", "app/common.js", "app/evidence-queue.js", "app/app.css", "app/tablet-sw.js")
_shell_versions: dict[tuple, str] = {}


def shell_version() -> str:
    """A hash of what the tablet's shell is made of (its scripts, style, page template and strings):
    a deploy that changes any of them changes the service worker, which then fetches the new shell."""
    static = Path(current_app.static_folder)
    here = Path(__file__).parent
    files = [static / name for name in _SHELL_FILES] + [
        here / "templates" / "web" / "tablet.html",
        here / "templates" / "web" / "base.html",
        here / "i18n.py",
    ]
    key = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if key not in _shell_versions:
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.read_bytes())
        _shell_versions.clear()
        _shell_versions[key] = digest.hexdigest()[:16]
    return _shell_versions[key]


@bp.get("/tablet-sw.js")
def tablet_sw():
    """The tablet's service worker: the shell offline (static/app/tablet-sw.js) under the shell's
    version, never cached itself."""
    # read whole (a few kB): no file handle is left to the response's close
    script = (Path(current_app.static_folder) / "app" / "tablet-sw.js").read_bytes()
    script = script.replace(b"dispatch-tablet-shell-VERSION", f"dispatch-tablet-shell-{shell_version()}".encode())
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/tablet"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/tablet.webmanifest")
def tablet_manifest():
    """The tablet's web app manifest: installable, opens on /tablet, in the page's language."""
    lang = current_language()
    catalogue = strings(lang)
    manifest = {
        "name": catalogue["tablet.app_name"],
        "short_name": catalogue["tablet.app_short"],
        "lang": "zh-CN" if lang == "zh" else "en",
        "start_url": "/tablet",
        "scope": "/tablet",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#12324f",
        "icons": [
            {
                "src": url_for("static", filename=f"app/icons/tablet-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
            for size in (192, 512)
        ]
        + [{"src": url_for("static", filename="app/icons/tablet.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    response = current_app.response_class(
        json.dumps(manifest, ensure_ascii=False), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response
