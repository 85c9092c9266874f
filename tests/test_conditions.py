"""Transport conditions (issue 29): ferry and boat suspensions at the moment of travel, over real HTTP.

The windows lie on tomorrow's date (China): a suspension already over is refused, and the
recommendations are asked ``at=`` a moment of that day.
"""

import datetime as dt
import time

import pytest

from tests.conftest import TOKENS, Api
from tests.factories import incident_body
from tests.realtime_clients import CommandScreen

pytestmark = pytest.mark.live

CST = dt.timezone(dt.timedelta(hours=8))
HUANIAO = (122.6708, 30.8555)  # on Huaniao island, reached only by ferry (or by boat)
DAY = dt.datetime.now(CST).date() + dt.timedelta(days=1)


def at(hh: int, mm: int = 0) -> str:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=CST).isoformat()


def suspension(scope="county", *, start=(9, 0), end=(14, 0), vessels=("ferry",), **extra) -> dict:
    body = {
        "scope": scope,
        "from": at(*start),
        "until": at(*end),
        "reason": {"kind": "wind", "wind_force": 9, "text": "大风停航 (县海事处通知)"},
        **extra,
    }
    if vessels is not None:
        body["vessels"] = list(vessels)
    return body


def _incident(api, matter="CM-001"):
    response = api.post("/incidents", incident_body(at=HUANIAO, matters=[matter]))
    assert response.status_code == 201, response.text
    return response.json()


def _recommend(api, incident, when=(10, 0)):
    response = api.get(f"/incidents/{incident['id']}/recommendations", at=at(*when), explain=1, limit=5)
    assert response.status_code == 200, response.text
    return response.json()


def _delete(api, suspension_id):
    return api.http.delete(f"{api.base}/api/v1/transport/suspensions/{suspension_id}", timeout=30)


def test_huaniao_at_ten_with_all_sailings_suspended_until_two(api):
    incident = _incident(api)
    before = _recommend(api, incident)["recommendations"]
    assert before and all(r["mode"] == "ferry" for r in before), "Huaniao is reached by ferry"
    ferry_eta = {r["squad"]["id"]: r["eta_seconds"] for r in before}

    created = api.post("/transport/suspensions", suspension())
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["state"] == "coming" and item["scope"] == "county" and item["vessels"] == ["ferry"]
    assert item["created_by"] == "dispatcher-test"

    during = _recommend(api, incident)
    window = (dt.datetime.fromisoformat(at(9, 0)), dt.datetime.fromisoformat(at(14, 0)))
    for r in during["recommendations"]:  # only a way that was never through the window (a later day's ferry)
        for leg in r["legs"]:
            assert "suspended_until" not in leg
            if leg["mode"] == "ferry":
                assert not window[0] <= dt.datetime.fromisoformat(leg["depart_at"]) < window[1]
    held = [o for o in during["left_out"] if o.get("suspended_until")]
    held_ids = {o["squad"]["id"] for o in held}
    assert before[0]["squad"]["id"] in held_ids, "the squad that was first is held back"
    assert held_ids | {r["squad"]["id"] for r in during["recommendations"]} >= set(ferry_eta)
    for entry in held:
        assert "ferry suspended until 14:00" in entry["reasons"]
        assert entry["reasons_zh"] == ["渡轮停航至 14:00"]
        arrival = dt.datetime.fromisoformat(entry["arrive_at"])
        assert arrival > dt.datetime.fromisoformat(at(14, 0)), "the next possible arrival is after the window"
        ferry = next(leg for leg in entry["legs"] if leg["mode"] == "ferry" and "suspended_until" in leg)
        assert dt.datetime.fromisoformat(ferry["depart_at"]) >= dt.datetime.fromisoformat(at(14, 0))
        assert entry["eta_seconds"] > ferry_eta.get(entry["squad"]["id"], 0)

    # Lifted: the ferry ETA is back at once, in this running server.
    lifted = _delete(api, item["id"])
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["state"] == "lifted" and lifted.json()["lifted_by"] == "dispatcher-test"
    after = _recommend(api, incident)["recommendations"]
    assert {r["squad"]["id"]: r["eta_seconds"] for r in after} == ferry_eta
    assert _delete(api, item["id"]).status_code == 409, "lifted already"
    assert api.get("/transport/suspensions").json()["suspensions"] == []


def test_a_maritime_boat_squad_is_offered_while_boats_still_sail(api):
    incident = _incident(api, matter="MA-001")
    item = api.post("/transport/suspensions", suspension()).json()  # ferries only: force 9 for the ferries
    ranked = _recommend(api, incident)["recommendations"]
    assert ranked and ranked[0]["mode"] == "boat" and ranked[0]["squad"]["force"] == "maritime"
    assert ranked[0]["eta_seconds"] < 2 * 3600
    _delete(api, item["id"])

    # Boats stopped too: the boat squad waits for the window's end, and says so.
    both = api.post("/transport/suspensions", suspension(vessels=("ferry", "boat"))).json()
    answer = _recommend(api, incident)
    assert all(r["mode"] != "boat" for r in answer["recommendations"])
    boat = next(o for o in answer["left_out"] if o.get("mode") == "boat")
    assert boat["reasons"] == ["boats suspended until 14:00"] and boat["reasons_zh"] == ["船艇停航至 14:00"]
    assert dt.datetime.fromisoformat(boat["arrive_at"]) > dt.datetime.fromisoformat(at(14, 0))
    _delete(api, both["id"])


def test_a_wind_force_stops_the_boats_before_the_ferries(api):
    incident = _incident(api, matter="MA-001")
    # Force 7: the patrol boats (limit 6) stop, the ferries (limit 8) still sail.
    body = suspension(vessels=None)
    body["reason"]["wind_force"] = 7
    item = api.post("/transport/suspensions", body).json()
    assert item["vessels"] == ["boat"]
    answer = _recommend(api, incident)
    assert any(o.get("mode") == "boat" for o in answer["left_out"])
    _delete(api, item["id"])
    body["reason"]["wind_force"] = 4
    refused = api.post("/transport/suspensions", body)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "reason.wind_force"


def test_a_sailing_that_leaves_before_the_window_still_arrives(api):
    incident = _incident(api)
    before = _recommend(api, incident)["recommendations"]
    best = before[0]
    crossing = [leg for leg in best["legs"] if leg["mode"] == "ferry"][-1]  # the crossing to Huaniao
    departs = dt.datetime.fromisoformat(crossing["depart_at"]).astimezone(CST)
    assert departs.date() == DAY
    # The link stopped from one minute after that departure: the squad still sails, at the same ETA.
    start = departs + dt.timedelta(minutes=1)
    code = f"{crossing['from']['code']}-{crossing['to']['code']}"
    after_start = api.post(
        "/transport/suspensions", suspension("link", link=code, start=(start.hour, start.minute), end=(23, 0))
    )
    assert after_start.status_code == 201, after_start.text
    during = _recommend(api, incident)["recommendations"]
    assert during[0]["squad"]["id"] == best["squad"]["id"]
    assert during[0]["eta_seconds"] == best["eta_seconds"], "its ferry departs before the window starts"
    _delete(api, after_start.json()["id"])
    # From the minute of that departure: it is held back.
    at_start = api.post(
        "/transport/suspensions", suspension("link", link=code, start=(departs.hour, departs.minute), end=(23, 0))
    )
    answer = _recommend(api, incident)
    assert best["squad"]["id"] not in {
        r["squad"]["id"] for r in answer["recommendations"] if r["eta_seconds"] == best["eta_seconds"]
    }
    _delete(api, at_start.json()["id"])


def test_a_link_or_a_pier_stops_only_its_own_sailings(api):
    incident = _incident(api)
    before = _recommend(api, incident)["recommendations"]
    link = api.post("/transport/suspensions", suspension("link", link="lizhushan-huaniao")).json()
    assert link["link"]["code"] == "lizhushan-huaniao" and link["link"]["to"]["name"] == "花鸟码头"
    during = _recommend(api, incident)
    for r in during["recommendations"]:  # who still comes, comes another way (via Gouqi)
        ferry_legs = [leg for leg in r["legs"] if leg["mode"] == "ferry"]
        assert ferry_legs[-1]["from"]["code"] != "lizhushan" or ferry_legs[-1]["to"]["code"] != "huaniao"
        assert not any("suspended_until" in leg for leg in r["legs"])
    _delete(api, link["id"])
    pier = api.post("/transport/suspensions", suspension("pier", pier="huaniao")).json()
    assert pier["pier"]["code"] == "huaniao"
    for r in _recommend(api, incident)["recommendations"]:  # only those whose crossing is after the window
        landing = [leg for leg in r["legs"] if leg["mode"] == "ferry"][-1]
        assert dt.datetime.fromisoformat(landing["depart_at"]) >= dt.datetime.fromisoformat(at(14, 0))
    listed = api.get("/transport/suspensions").json()["suspensions"]
    assert [s["id"] for s in listed] == [pier["id"]]
    _delete(api, pier["id"])
    assert _recommend(api, incident)["recommendations"] == before


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"until": at(8, 0)}, "until", 422),
        ({"until": at(9, 0)}, "until", 422),
        ({"scope": "link"}, "link", 400),
        ({"scope": "pier"}, "pier", 400),
        ({"scope": "link", "link": "lizhushan-nowhere"}, "link", 422),
        ({"scope": "link", "link": "shengshan-huaniao"}, "link", 422),  # two piers, no link between them
        ({"scope": "pier", "pier": "atlantis"}, "pier", 422),
        ({"pier": "huaniao"}, "pier", 400),  # a pier with scope county
        ({"vessels": ["ferry", "ferry"]}, "vessels", 400),
        ({"vessels": ["hovercraft"]}, "vessels[0]", 400),
        ({"scope": "harbour"}, "scope", 400),
        ({"reason": {"kind": "wind", "text": " "}}, "reason.text", 400),
        ({"from": "2026-13-01T09:00:00+08:00"}, "from", 400),
        (
            {
                "from": at(9, 0).replace(str(DAY.year), str(DAY.year - 1)),
                "until": at(14, 0).replace(str(DAY.year), str(DAY.year - 1)),
            },
            "until",
            422,
        ),  # fmt: skip
    ],
)
def test_a_refused_suspension_names_the_field_and_saves_nothing(api, store, change, field, status):
    from sqlalchemy import text

    body = {**suspension(), **change}
    events = store.execute(text("SELECT count(*) FROM event")).scalar()
    response = api.post("/transport/suspensions", body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["code"] and error["message"]
    assert store.execute(text("SELECT count(*) FROM transport_suspension")).scalar() == 0
    assert store.execute(text("SELECT count(*) FROM event")).scalar() == events


def test_who_may_set_and_lift_and_the_record(api, live_server, store):
    from sqlalchemy import text

    for role in ("supervisor", "planner"):
        other = Api(live_server.url, TOKENS[role][1])
        refused = other.post("/transport/suspensions", suspension())
        assert refused.status_code == 403, (role, refused.text)
        other.close()
    supervisor = Api(live_server.url, TOKENS["supervisor"][1])
    item = api.post("/transport/suspensions", suspension()).json()
    assert [s["id"] for s in supervisor.get("/transport/suspensions").json()["suspensions"]] == [item["id"]]
    assert _delete(supervisor, item["id"]).status_code == 403
    supervisor.close()
    assert _delete(api, 424242).status_code == 404
    _delete(api, item["id"])
    rows = store.execute(
        text("SELECT action, actor, data FROM event WHERE entity_type = 'transport_suspension' ORDER BY id")
    ).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("transport_suspended", "dispatcher-test"),
        ("transport_suspension_lifted", "dispatcher-test"),
    ]
    assert rows[0].data["reason"]["kind"] == "wind" and rows[0].data["vessels"] == ["ferry"]


def test_set_and_lift_reach_the_command_centre_and_the_other_process(start_server, database_url):
    first, second = start_server(), start_server()
    api, other = Api(first.url), Api(second.url)
    screen = CommandScreen(first.url)
    try:
        incident = _incident(api)
        baseline = _recommend(other, incident)["recommendations"]
        item = api.post("/transport/suspensions", suspension()).json()
        screen.wait_until(lambda: any(u["id"] == item["id"] for u in screen.updates("suspension")))
        assert screen.updates("suspension")[-1]["data"]["state"] == "coming"

        def seen_by_other(check, timeout=5.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if check(_recommend(other, incident)):
                    return True
                time.sleep(0.1)
            return False

        first_squad = baseline[0]["squad"]["id"]
        assert seen_by_other(
            lambda a: any(o["squad"]["id"] == first_squad and o.get("suspended_until") for o in a["left_out"])
        ), "the other process sees the suspension"
        assert _delete(api, item["id"]).status_code == 200
        screen.wait_until(lambda: any(u["data"]["state"] == "lifted" for u in screen.updates("suspension")))
        assert seen_by_other(lambda a: a["recommendations"] == baseline), "and its lifting"
    finally:
        screen.close()
        api.close()
        other.close()


def test_timetables_reload_without_a_restart(live_server, api, tmp_path, store):
    from sqlalchemy import text

    admin = Api(live_server.url, TOKENS["api"][1])
    dispatcher = Api(live_server.url, TOKENS["dispatcher"][1])
    try:
        network = api.get("/transport/network").json()
        link = next(x for x in network["links"] if x["code"] == "lizhushan-huaniao")
        assert link["timetable"] == ["07:00", "13:30"] and network["wind_limits"] == {"boat": 6, "ferry": 8}
        assert {p["code"] for p in network["piers"]} >= {"huaniao", "lizhushan", "gouqi"}
        version = store.execute(text("SELECT max(transport_version) FROM travel_profile")).scalar()
        reloaded = admin.post("/transport/timetables/reload", {"dataset": "shengsi"})
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["timetable_versions"] == 4
        assert store.execute(text("SELECT max(transport_version) FROM travel_profile")).scalar() == version + 1
        assert admin.post("/transport/timetables/reload", {"dataset": "nowhere"}).status_code == 422
        assert dispatcher.post("/transport/timetables/reload", {"dataset": "shengsi"}).status_code == 403
    finally:
        admin.close()
        dispatcher.close()


def test_the_summer_timetable_is_used_on_a_summer_day():
    from gis.travel import Link, Season, next_departure

    winter = Season(dt.date(2026, 10, 8), dt.date(2027, 4, 30), ("07:00", "13:30"))
    summer = Season(dt.date(2027, 5, 1), dt.date(2027, 10, 7), ("07:00", "10:30", "13:30", "16:30"))
    link = Link(1, 2, 60, ("07:00", "13:30"), seasons=(winter, summer))
    assert next_departure(dt.datetime(2027, 6, 1, 10, 0, tzinfo=CST), (), link).hour == 10
    assert next_departure(dt.datetime(2027, 1, 5, 10, 0, tzinfo=CST), (), link).hour == 13
    # the last winter evening waits for the first summer morning's timetable
    assert next_departure(dt.datetime(2027, 4, 30, 14, 0, tzinfo=CST), (), link) == dt.datetime(
        2027, 5, 1, 7, 0, tzinfo=CST
    )


def test_held_windows_in_the_travel_model():
    from gis.travel import Conditions, FerryNetwork, Link, Port, Profile

    profile = Profile(30, 1.3, 35, 10)
    ports = {1: Port(1, "a", "A", 1, 122.0, 30.0), 2: Port(2, "b", "B", 2, 122.3, 30.0)}
    network = FerryNetwork(profile, ports, [Link(1, 2, 60, ("09:30", "13:30", "15:00"))])
    window = (dt.datetime(2026, 11, 23, 9, 0, tzinfo=CST), dt.datetime(2026, 11, 23, 14, 0, tzinfo=CST))
    stopped = Conditions({(1, 2): (window,)})
    ready = dt.datetime(2026, 11, 23, 8, 0, tzinfo=CST)
    free = network.sail(1, ready)
    held = network.sail(1, ready, stopped)
    assert free.arrival[2].hour == 10 and free.held_until(2) is None
    assert held.arrival[2] == dt.datetime(2026, 11, 23, 16, 0, tzinfo=CST) and held.held_until(2) == window[1]
    # the other way is not stopped
    assert network.sail(2, ready, stopped).held_until(1) is None
