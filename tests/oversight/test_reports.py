"""The annual figures (seed 001 §2; seed 002 task 6) and the supervisor's page."""

import datetime as dt

import yaml

from tests.conftest import SHENGSI
from tests.oversight.factories import JUSTICE, ago, new_incident, squad_id


def _move(client, task_id, *states):
    for state in states:
        response = client.post(f"/api/v1/tasks/{task_id}/transition", json={"to": state})
        assert response.status_code == 200, response.get_json()


def _expected_township_share() -> float:
    """Seed 001 §2 computed straight from the data files: officers of township-stationed squads."""
    townships = {
        f["properties"]["code"]
        for f in yaml.safe_load((SHENGSI / "regions.geojson").read_text())["features"]
        if f["properties"]["level"] == "township"
    }
    squads = yaml.safe_load((SHENGSI / "squads.yaml").read_text(encoding="utf-8"))
    officers = [(s, o) for s in squads for o in s["officers"] if not o["auxiliary"]]
    stationed = [1 for s, _ in officers if s["scope"] == "zone" and s["station_region"] in townships]
    return round(len(stationed) / len(officers), 4)


def test_seed001_2_annual_report_has_the_two_targets_and_the_response_times(client):
    year = dt.date.today().year
    done = new_incident(client, at=(122.45, 30.727), reported_at=dt.datetime.fromisoformat(ago(minutes=20)))
    task = client.post(
        f"/api/v1/incidents/{done['id']}/dispatch", json={"squad_ids": [squad_id(client, "cb-caiyuan")]}
    ).get_json()["tasks"][0]
    _move(client, task["id"], "acknowledged", "en_route", "on_scene", "completed")
    new_incident(client, at=(122.45, 30.727), reported_at=dt.datetime.fromisoformat(ago(hours=3)))  # never reached

    response = client.get(f"/api/v1/reports/annual?year={year}")
    assert response.status_code == 200
    report = response.get_json()
    matters = yaml.safe_load((SHENGSI / "matters.yaml").read_text(encoding="utf-8"))
    comprehensive = sum(1 for m in matters if m["domain"] == "comprehensive")
    assert report["comprehensive_share"] == round(comprehensive / len(matters), 4)
    assert report["township_force_share"] == _expected_township_share()
    assert report["targets"] == {"comprehensive_share": 0.2, "township_force_share": 0.5}
    assert report["targets_met"]["comprehensive_share"] is True
    assert report["shares"]["handled"] == {"incidents": 2, "comprehensive": 2, "comprehensive_share": 1.0}
    overall = report["response_times"]["overall"]
    assert overall["intake_to_dispatch"]["count"] == 1 and overall["on_scene_to_completion"]["count"] == 1
    assert overall["dispatch_to_on_scene"]["median"] >= 0
    caiyuan = next(r for r in report["response_times"]["by_township"] if r["key"] == "330922100")
    assert caiyuan["name"] == "菜园镇" and caiyuan["intake_to_dispatch"]["count"] == 1
    assert [r["key"] for r in report["response_times"]["by_force"]] == ["comprehensive"]
    assert report["overdue"]["overdue_open"] == 1 and report["overdue"]["incidents"] == 2
    assert report["joint_inspections"]["visits_avoided"] == 0
    assert set(report["oversight"]) >= {"legal_reviews", "assistance_requests", "referrals", "supervision", "training"}
    empty = client.get("/api/v1/reports/annual?year=2001").get_json()
    assert empty["response_times"]["overall"] is None and empty["overdue"]["incidents"] == 0


def test_seed002_task6_the_report_as_csv(client):
    response = client.get("/api/v1/reports/annual?year=2026&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "annual-report-2026.csv" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "section,group,name,metric,value"
    assert any(line.startswith("summary,2026,,comprehensive_share,0.") for line in lines)
    assert any(line.startswith("summary,2026,,township_force_share,0.") for line in lines)
    negotiated = client.get("/api/v1/reports/annual?year=2026", headers={"Accept": "text/csv"})
    assert negotiated.mimetype == "text/csv"


def test_seed002_task6_the_report_as_a_printable_page_with_local_charts(client):
    response = client.get("/api/v1/reports/annual?year=2026&format=html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert page.count("<svg") >= 4 and "2026" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "/static/oversight/oversight.css" in page
    with client.get("/static/oversight/oversight.css") as css:
        assert css.status_code == 200
    browser = client.get("/api/v1/reports/annual?year=2026", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.mimetype == "text/html"


def test_the_report_refuses_a_bad_year_or_format(client):
    assert client.get("/api/v1/reports/annual?year=abc").get_json()["error"]["field"] == "year"
    assert client.get("/api/v1/reports/annual?year=2026&format=pdf").get_json()["error"]["field"] == "format"


def test_seed002_task6_the_supervisor_page_lists_overdue_work_disputes_and_notices(client):
    new_incident(
        client,
        at=(122.45, 30.727),
        reported_at=dt.datetime.fromisoformat(ago(hours=3)),
        description="<script>alert('x')</script>占道",
    )
    referral = client.post(
        "/api/v1/referrals",
        json={"to": "dept-emergency", "summary": "加油站隐患 <b>未处理</b>", "referred_at": ago(days=2)},
    )
    assert referral.status_code == 201, referral.get_json()
    assistance = client.post(
        "/api/v1/assistance-requests", json={"to": "dept-market", "question": "请出具检验意见", "sent_at": ago(days=20)}
    )
    assert assistance.status_code == 201, assistance.get_json()
    dispute = client.post(
        "/api/v1/disputes",
        json={
            "party_a": "county-bureau",
            "party_b": "dept-culture",
            "subject": "沙滩帐篷管辖",
            "provisional_squad_id": squad_id(client, "cb-caiyuan"),
        },
    )
    assert dispute.status_code == 201, dispute.get_json()
    notice = client.post(
        "/api/v1/supervision-notices",
        json={
            "authority": "county-bureau",
            "method": "special",
            "problem": "执法记录仪使用不规范",
            "required_action": "整改",
        },
        headers=JUSTICE,
    )
    assert notice.status_code == 201, notice.get_json()
    response = client.get("/supervisor")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for text in ("超时事件", "加油站隐患", "请出具检验意见", "沙滩帐篷管辖", "执法记录仪使用不规范", "史晓燕", "<svg"):
        assert text in page, text
    assert "<script>" not in page and "&lt;script&gt;" in page, "user text is escaped"
    assert "&lt;b&gt;未处理&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page
