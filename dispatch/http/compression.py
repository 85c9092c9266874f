"""gzip for what a browser loads: the pages and the static files (scripts, styles, SVG).

A tablet at sea opens its screen over a few hundred kbit/s; Leaflet alone is 148 kB as it is and
42 kB gzipped. Static files are compressed once per version of the file (path, modification time,
size) and kept in memory; pages are compressed per answer (a few kB). The API's JSON is left as it
is: its large answers (the command centre's snapshot) go to desks on the intranet, where the CPU a
compression costs weighs more than the bytes it saves.

Only 200 answers of a compressible type, over MIN_BYTES, to a client that accepts gzip; the
answer says ``Vary: Accept-Encoding``, so a cache
never hands the compressed bytes to a client that did not ask for them (a static file's ETag
becomes weak, as nginx makes it: the same file in another encoding, still answered 304 when the
browser has it).
"""

from __future__ import annotations

import gzip
from pathlib import Path

from flask import Flask, Response, current_app, request

COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "image/svg+xml",
    }
)
MIN_BYTES = 1024
LEVEL = 6
_static: dict[tuple[str, int, int], bytes] = {}  # (path, mtime_ns, size) -> gzip bytes


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0  # Werkzeug weighs q= and "*"


def _static_bytes(filename: str) -> bytes | None:
    root = Path(current_app.static_folder).resolve()
    path = (root / filename).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    data = _static.get(key)
    if data is None:
        data = gzip.compress(path.read_bytes(), compresslevel=LEVEL, mtime=0)
        for old in [k for k in _static if k[0] == key[0]]:
            del _static[old]
        _static[key] = data
    return data


def _compress(response: Response) -> Response:
    if response.status_code != 200 or "Content-Encoding" in response.headers:
        return response
    if response.mimetype not in COMPRESSIBLE:
        return response
    endpoint = request.endpoint or ""
    if endpoint == "static":
        length = response.content_length
        if length is not None and length < MIN_BYTES:
            return response
        response.vary.add("Accept-Encoding")
        if not _accepts_gzip():
            return response
        data = _static_bytes((request.view_args or {}).get("filename", ""))
        if data is None:
            return response
        if hasattr(response.response, "close"):
            response.response.close()  # the file the static view opened
        response.direct_passthrough = False
        response.set_data(data)
        response.headers.pop("Accept-Ranges", None)
        etag, _ = response.get_etag()
        if etag:  # weak, as nginx makes it: the same file, another encoding; If-None-Match still answers 304
            response.set_etag(etag, weak=True)
    elif endpoint.startswith("web."):  # the pages, the tablet's service worker and manifest
        body = response.get_data()
        if len(body) < MIN_BYTES:
            return response
        response.vary.add("Accept-Encoding")
        if not _accepts_gzip():
            return response
        response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    else:
        return response
    response.headers["Content-Encoding"] = "gzip"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_compress)
