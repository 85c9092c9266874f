"""Chinese coordinate systems (pure functions, no database)."""

import pytest

from gis.crs import bd09_to_gcj02, from_wgs84, gcj02_to_bd09, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from gis.travel import Profile


@pytest.mark.parametrize("point", [(122.45, 30.73), (106.71, 26.58), (116.397, 39.909), (87.6, 43.8)])
def test_gcj02_round_trip_is_sub_centimetre(point):
    gcj = wgs84_to_gcj02(*point)
    back = gcj02_to_wgs84(*gcj)
    assert abs(back[0] - point[0]) < 1e-7 and abs(back[1] - point[1]) < 1e-7


def test_gcj02_shift_in_shengsi_is_a_few_hundred_metres_north_east():
    lon, lat = 122.45, 30.73
    glon, glat = wgs84_to_gcj02(lon, lat)
    metres_east = (glon - lon) * 111_320 * 0.86
    metres_north = (glat - lat) * 110_574
    assert 100 < (metres_east**2 + metres_north**2) ** 0.5 < 800


def test_outside_china_nothing_moves():
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)


def test_bd09_round_trip_and_dispatch_by_name():
    gcj = (122.455, 30.733)
    assert bd09_to_gcj02(*gcj02_to_bd09(*gcj)) == pytest.approx(gcj, abs=1e-6)
    wgs = (122.45, 30.73)
    assert to_wgs84(*from_wgs84(*wgs, "bd09"), "bd09") == pytest.approx(wgs, abs=1e-6)
    assert to_wgs84(*wgs, "wgs84") == wgs
    with pytest.raises(ValueError, match="unknown coordinate system"):
        to_wgs84(*wgs, "utm")


def test_travel_profile_arithmetic():
    profile = Profile(land_speed_kmh=36, detour_factor=1.5, boat_speed_kmh=18, transfer_minutes=10)
    assert profile.land_seconds(1000) == pytest.approx(150)
    assert profile.boat_seconds(1000) == pytest.approx(600 + 200)
