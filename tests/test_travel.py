"""The ferry network (pure: no database)."""

import datetime as dt

from gis.travel import FerryNetwork, Link, Port, Profile, next_departure

CST = dt.timezone(dt.timedelta(hours=8))
PROFILE = Profile(land_speed_kmh=30, detour_factor=1.0, boat_speed_kmh=30, transfer_minutes=10)


def _network(links):
    ports = {
        1: Port(1, "a-west", "A west", 1, 122.40, 30.70),
        2: Port(2, "a-east", "A east", 1, 122.50, 30.70),  # ~9.6 km east of a-west, same island
        3: Port(3, "b", "B", 2, 122.60, 30.70),
    }
    return FerryNetwork(PROFILE, ports, links)


def test_a_route_may_drive_between_two_piers_of_one_island():
    network = _network([Link(2, 3, 20)])
    at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CST)
    sailing = network.sail(1, at)
    arrival, legs = sailing.arrival[3], sailing.legs(3)
    assert [leg["mode"] for leg in legs] == ["land", "ferry"]
    drive = legs[0]["seconds"]
    assert 1100 < drive < 1200, "9.6 km at 30 km/h"
    expected = at + dt.timedelta(seconds=drive) + dt.timedelta(minutes=10 + 20)
    assert abs((arrival - expected).total_seconds()) < 1
    assert network.lower_bound(1, 3) <= (arrival - at).total_seconds()


def test_timetables_wait_for_the_next_departure_even_overnight():
    at = dt.datetime(2026, 11, 23, 16, 5, tzinfo=CST)
    assert next_departure(at, ("07:00", "16:00")) == dt.datetime(2026, 11, 24, 7, 0, tzinfo=CST)
    assert next_departure(at, ()) == at
    network = _network([Link(1, 3, 30, ("07:00", "16:00"))])
    sailing = network.sail(1, at)
    arrival, legs = sailing.arrival[3], sailing.legs(3)
    assert legs[-1]["depart_at"] == "2026-11-24T07:00:00+08:00"
    assert arrival == dt.datetime(2026, 11, 24, 7, 30, tzinfo=CST)


def test_unreachable_ports_have_no_route():
    network = _network([])
    assert 3 not in network.sail(1, dt.datetime(2026, 11, 23, 9, 0, tzinfo=CST)).arrival
    assert network.lower_bound(1, 3) == float("inf")
