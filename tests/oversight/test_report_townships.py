"""The annual report lists every township of Shengsi (seed 001: seven townships, 花鸟乡 among them),
and the supervisor's pages say what they show in words (zh and en), citing documents by title."""

import datetime as dt

from sqlalchemy import select

from dispatch.store.models import Region
from tests.conftest import TOKENS
from tests.oversight.factories import ago, new_incident

ADMIN = {"Authorization": f"Bearer {TOKENS['api'][1]}"}
HUANIAO = "330922203"


def test_seed001_every_township_of_shengsi_appears_in_the_by_township_tables(client, session):
    townships = set(session.scalars(select(Region.code).where(Region.level == "township")))
    assert len(townships) == 7 and HUANIAO in townships
    new_incident(client, at=(122.45, 30.727), reported_at=dt.datetime.fromisoformat(ago(minutes=30)))
    year = dt.date.today().year
    report = client.get(f"/api/v1/reports/annual?year={year}").get_json()
    for table in (report["response_times"]["by_township"], report["overdue"]["by_township"]):
        assert townships <= {row["key"] for row in table}, table
    huaniao = next(r for r in report["overdue"]["by_township"] if r["key"] == HUANIAO)
    assert huaniao == {"key": HUANIAO, "name": "花鸟乡", "incidents": 0, "late": 0, "overdue_open": 0}
    # An empty year lists the townships too, with nothing in them.
    empty = client.get("/api/v1/reports/annual?year=2001").get_json()
    assert {r["key"] for r in empty["response_times"]["by_township"]} == townships
    page = client.get(f"/api/v1/reports/annual?year={year}&format=html").get_data(as_text=True)
    assert "花鸟乡" in page


def test_the_procedures_are_in_words_and_the_seeds_by_title(client):
    page = client.get(f"/api/v1/reports/annual?year={dt.date.today().year}&format=html").get_data(as_text=True)
    assert "法制审核 Legal reviews" in page and "待审 pending" in page
    assert "legal_reviews" not in page and "seed 001 §2" not in page
    assert "嵊泗县“大综合一体化”行政执法改革实施方案" in page


def test_the_supervisors_page_warns_of_the_calendar_horizon_in_zh_and_en(client):
    response = client.get("/supervisor", headers=ADMIN)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="calendar-warning"' in page and "2026-12-31" in page
    assert "节假日安排" in page and "load the State Council" in page
    assert "法制审核 Legal reviews" in page and "legal_reviews" not in page
