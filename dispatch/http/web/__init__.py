"""The screens: command centre (/command), squad tablet (/tablet), zone planner (/planner), Folium maps.

Pages are thin HTML shells; the scripts under static/app talk to the JSON API
and Socket.IO. Every asset is served from this server (no CDN): command
centres run on government intranets.
"""

from dispatch.http.web import maps  # noqa: F401  (routes register on import)
from dispatch.http.web.pages import bp

__all__ = ["bp"]
