"""The position batch's body is checked by hand (a hot path: ``dispatch.positions.parse_batch``);
its declaration (``PositionBatch``, what the OpenAPI document says) must accept and refuse the same
bodies, and name the same field when it refuses one."""

import datetime as dt

import pytest
from pydantic import ValidationError

from dispatch.errors import ApiError
from dispatch.http.contract import refusal
from dispatch.http.contract.realtime import PositionBatch
from dispatch.positions import MAX_BATCH, parse_batch

# Far ahead: whether a fix is dated in the future is a rule (422), not the document's business.
ANY_TIME = dt.timedelta(days=365 * 100)
FIX = {"id": "6-1764000000000-1", "lon": 122.45, "lat": 30.73, "time": "2026-11-23T09:30:00+08:00"}


def _batch(**changes) -> dict:
    fix = {**FIX, **changes}
    return {"fixes": [{k: v for k, v in fix.items() if v is not _ABSENT}]}


_ABSENT = object()

ACCEPTED = [
    _batch(),
    _batch(crs="gcj02", accuracy=0, speed=1e4, heading=360),
    _batch(crs="bd09", accuracy=1e6, speed=0.0, heading=0),
    _batch(crs="wgs84", accuracy=None, speed=None, heading=None),
    _batch(lon=122, lat=30),
    _batch(lon=-180, lat=-90),
    _batch(lon=180, lat=90),
    _batch(id="x"),
    _batch(id="~" * 64),
    _batch(id=" a b "),
    _batch(time="2026-11-23T01:30:00Z"),
    _batch(time="2026-11-23t01:30:00z"),
    _batch(time="2026-11-23T09:30:00.123456789+08:00"),
    _batch(time="2026-11-23T01:30:00.5-00:00"),
    _batch(time="2000-01-01T00:00:00Z"),
    _batch(time="2099-01-01T00:00:00Z"),
    {"fixes": [FIX, FIX]},  # the same fix twice counts once
    # a fix's id is its action_id, its time its occurred_at (the names a task's step uses)
    _batch(id=_ABSENT, action_id="3f0c8f5e-4a43-4d8b-9a0e-2f1d2c3b4a5e"),
    _batch(time=_ABSENT, occurred_at="2026-11-23T09:30:00+08:00"),
    _batch(id=None, action_id="a-1", time=None, occurred_at="2026-11-23T01:30:00Z"),
    {"fixes": [{**FIX, "id": f"f{i}"} for i in range(MAX_BATCH)]},
]

REFUSED = [
    (None, None),
    ([], None),
    ("fixes", None),
    ({}, None),
    ({"fixes": None}, None),
    ({"fixes": {}}, None),
    ({"fixes": []}, "fixes"),
    ({"fixes": [FIX] * (MAX_BATCH + 1)}, "fixes"),
    ({"fixes": [FIX], "squad": 6}, None),
    ({"fixes": [5]}, "fixes[0]"),
    ({"fixes": [[]]}, "fixes[0]"),
    ({"fixes": [FIX, "x"]}, "fixes[1]"),
    (_batch(id=_ABSENT), "fixes[0].id"),
    (_batch(lon=_ABSENT), "fixes[0].lon"),
    (_batch(lat=_ABSENT), "fixes[0].lat"),
    (_batch(time=_ABSENT), "fixes[0].time"),
    (_batch(id=""), "fixes[0].id"),
    (_batch(id="x" * 65), "fixes[0].id"),
    (_batch(id="é"), "fixes[0].id"),
    (_batch(id="a\tb"), "fixes[0].id"),
    (_batch(id="a\u2028b"), "fixes[0].id"),
    (_batch(id=5), "fixes[0].id"),
    (_batch(id=None), "fixes[0].id"),
    (_batch(lon=180.0001), "fixes[0].lon"),
    (_batch(lon=-181), "fixes[0].lon"),
    (_batch(lon="122.45"), "fixes[0].lon"),
    (_batch(lon=True), "fixes[0].lon"),
    (_batch(lon=None), "fixes[0].lon"),
    (_batch(lon=[122.45]), "fixes[0].lon"),
    (_batch(lat=90.5), "fixes[0].lat"),
    (_batch(lat=-91), "fixes[0].lat"),
    (_batch(crs="utm"), "fixes[0].crs"),
    (_batch(crs="WGS84"), "fixes[0].crs"),
    (_batch(crs=None), "fixes[0].crs"),
    (_batch(time="2026-11-23T09:30:00"), "fixes[0].time"),
    (_batch(time="2026-11-23 09:30:00+08:00"), "fixes[0].time"),
    (_batch(time="2026-11-23T09:30+08:00"), "fixes[0].time"),
    (_batch(time="2026-11-23T09:30:00+0800"), "fixes[0].time"),
    (_batch(time="20261123T093000+08:00"), "fixes[0].time"),
    (_batch(time="2026-13-01T00:00:00Z"), "fixes[0].time"),
    (_batch(time="2026-02-30T00:00:00Z"), "fixes[0].time"),
    (_batch(time="1999-12-31T23:59:59Z"), "fixes[0].time"),
    (_batch(time=1764000000), "fixes[0].time"),
    (_batch(time=None), "fixes[0].time"),
    (_batch(time=""), "fixes[0].time"),
    (_batch(accuracy=-1), "fixes[0].accuracy"),
    (_batch(accuracy=1e6 + 1), "fixes[0].accuracy"),
    (_batch(accuracy="5"), "fixes[0].accuracy"),
    (_batch(accuracy=False), "fixes[0].accuracy"),
    (_batch(speed=-0.1), "fixes[0].speed"),
    (_batch(speed=1e4 + 1), "fixes[0].speed"),
    (_batch(heading=360.5), "fixes[0].heading"),
    (_batch(heading=-1), "fixes[0].heading"),
    (_batch(alt=3), "fixes[0].alt"),
    (_batch(action_id="a-1"), "fixes[0].id"),  # both names: which one counts?
    (_batch(occurred_at="2026-11-23T09:30:00+08:00"), "fixes[0].time"),
    (_batch(id=_ABSENT, action_id=""), "fixes[0].action_id"),
    (_batch(id=_ABSENT, action_id=5), "fixes[0].action_id"),
    (_batch(time=_ABSENT, occurred_at="2026-11-23T09:30:00"), "fixes[0].occurred_at"),
    (_batch(time=_ABSENT, occurred_at=None), "fixes[0].time"),
]


def _by_hand(body) -> ApiError | None:
    try:
        parse_batch(body, max_ahead=ANY_TIME)
    except ApiError as exc:
        return exc
    return None


def _declared(body) -> ApiError | None:
    try:
        PositionBatch.model_validate(body)
    except ValidationError as err:
        return refusal(err, where="body")
    return None


@pytest.mark.parametrize("body", ACCEPTED, ids=range(len(ACCEPTED)))
def test_what_the_document_accepts_the_hand_check_accepts(body):
    assert _declared(body) is None
    assert _by_hand(body) is None


@pytest.mark.parametrize(("body", "field"), REFUSED, ids=range(len(REFUSED)))
def test_what_the_document_refuses_the_hand_check_refuses_naming_the_field(body, field):
    declared, by_hand = _declared(body), _by_hand(body)
    assert declared is not None and by_hand is not None, (declared, by_hand)
    assert by_hand.status == declared.status == 400
    if field is not None:  # a defect inside the batch: both name it alike
        assert by_hand.field == declared.field == field, (by_hand.field, declared.field)


def test_the_plugin_leaves_the_batch_to_the_hand_check_and_documents_the_model(client):
    assert PositionBatch.checked_by_hand
    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"]["/api/v1/squads/{squad_id}/positions"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PositionBatch"}
    fix = doc["components"]["schemas"]["Fix"]
    assert fix["additionalProperties"] is False and set(fix["required"]) == {"lon", "lat"}
    given = [[branch["required"] for branch in pair["oneOf"]] for pair in fix["allOf"]]
    assert given == [[["id"], ["action_id"]], [["time"], ["occurred_at"]]]  # id or action_id, time or occurred_at
    assert {"200", "400", "401", "403", "422"} <= set(operation["responses"])
