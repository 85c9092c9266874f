"""gzip for what a browser loads (dispatch.http.compression): a tablet on 4G opens its screen in
under 3 s from an empty cache only if Leaflet crosses the link as 43 kB, not 148 kB."""

from __future__ import annotations

import gzip

import pytest
import requests

from tests.conftest import TOKENS

pytestmark = pytest.mark.live


def _raw(url: str, **headers) -> tuple[requests.Response, bytes]:
    """The answer and its bytes as they crossed the wire (requests would decompress them)."""
    response = requests.get(url, headers=headers, stream=True, timeout=30)
    return response, response.raw.read(decode_content=False)


def test_static_files_and_pages_cross_the_link_gzipped_and_unchanged(live_server):
    base = live_server.url
    plain, plain_bytes = _raw(f"{base}/static/vendor/leaflet/leaflet.js", **{"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed, packed_bytes = _raw(f"{base}/static/vendor/leaflet/leaflet.js", **{"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed_bytes) == plain_bytes, "the same file"
    assert len(packed_bytes) < len(plain_bytes) / 2
    assert int(packed.headers["Content-Length"]) == len(packed_bytes)
    assert "Accept-Ranges" not in packed.headers
    # the browser's copy is still good: 304 for the gzipped variant's (weak) ETag
    assert packed.headers["ETag"].startswith('W/"')
    again = requests.get(
        f"{base}/static/vendor/leaflet/leaflet.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
        timeout=30,
    )
    assert again.status_code == 304

    page, page_bytes = _raw(f"{base}/tablet", **{"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b'rel="manifest"' in gzip.decompress(page_bytes)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    refused, _ = _raw(f"{base}/tablet", **{"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in refused.headers, "q=0 refuses gzip"


def test_the_api_and_small_files_are_sent_as_they_are(live_server):
    base = live_server.url
    answer, _ = _raw(
        f"{base}/api/v1/regions",
        **{"Accept-Encoding": "gzip", "Authorization": f"Bearer {TOKENS['dispatcher'][1]}"},
    )
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
    icon, _ = _raw(f"{base}/static/app/icons/tablet-192.png", **{"Accept-Encoding": "gzip"})
    assert icon.status_code == 200 and "Content-Encoding" not in icon.headers, "PNG is compressed already"
    missing, _ = _raw(f"{base}/static/app/nothing-here.js", **{"Accept-Encoding": "gzip"})
    assert missing.status_code == 404
