"""Cases: certified enforcers, legal review before a major penalty, criminal referrals.

The county bureau (the oversight ``client``) opens and decides its cases; its legal reviewer
passes them with her own token; the police say what became of a case transferred to them.
"""

from tests.conftest import TOKENS, as_person
from tests.oversight.factories import (
    AUXILIARY,
    BUREAU,
    CERTIFIED,
    EXPIRED,
    MARKET,
    POLICE,
    REVIEWER,
    SECOND,
    case_body,
    new_incident,
    officer_id,
    open_case,
)

DECISION = {"number": "嵊综执罚决字〔2026〕第1号", "content": "责令改正,罚款二万元", "fine_yuan": 20000}


def _review(client, case_id):
    response = client.post(f"/api/v1/cases/{case_id}/legal-reviews", json={"proposed_decision": "拟罚款二万元"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_seed002_task5_an_auxiliary_never_enforces_a_case(client, session):
    response = client.post("/api/v1/cases", json=case_body(session, enforcers=(AUXILIARY,)))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "auxiliary_not_enforcer" and error["field"] == "enforcer_ids[0]"


def test_seed002_task5_an_expired_certificate_does_not_enforce(client, session):
    response = client.post("/api/v1/cases", json=case_body(session, enforcers=(CERTIFIED, EXPIRED)))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "certificate_expired" and error["field"] == "enforcer_ids[1]"


def test_seed002_task5_an_auxiliary_assists_a_certified_enforcer(client, session):
    case = open_case(client, session, assistant_ids=[officer_id(session, AUXILIARY)])
    assert case["status"] == "investigating"
    assert case["officers"] == sorted(
        [
            {"id": officer_id(session, CERTIFIED), "role": "enforcer"},
            {"id": officer_id(session, SECOND), "role": "enforcer"},
        ],
        key=lambda o: o["id"],
    ) + [{"id": officer_id(session, AUXILIARY), "role": "assistant"}]
    events = client.get(f"/api/v1/cases/{case['id']}").get_json()["events"]
    assert events[0]["action"] == "case.opened"
    assert events[0]["data"]["assistants"] == [officer_id(session, AUXILIARY)]


def test_seed002_task5_a_case_needs_an_enforcer(client, session):
    response = client.post("/api/v1/cases", json=case_body(session, enforcers=()))
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "enforcer_ids"


def test_a_case_is_opened_only_by_a_competent_authority(client, session):
    response = client.post(
        "/api/v1/cases", json=case_body(session, authority="dept-market", matter="CM-001"), headers=MARKET
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == {
        "code": "not_competent",
        "message": response.get_json()["error"]["message"],
        "field": "matter",
    }


def test_seed002_task1_major_penalty_needs_legal_review_first(client, session):
    case = open_case(client, session, major=True)
    refused = client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "legal_review_required"
    assert refused.get_json()["error"]["field"] == "legal_review"

    review = _review(client, case["id"])
    again = client.post(f"/api/v1/cases/{case['id']}/legal-reviews", json={"proposed_decision": "再审"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "review_pending"
    still = client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION)
    assert still.status_code == 409 and "pending" in still.get_json()["error"]["message"]

    passed = client.post(
        f"/api/v1/legal-reviews/{review['id']}/outcome",
        json={"outcome": "passed", "reasons": "事实清楚,证据确凿,适用依据正确,程序合法"},
        headers=REVIEWER,
    )
    assert passed.status_code == 200 and passed.get_json()["reviewer"]["code"] == "reviewer-cb-wang"
    issued = client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION)
    assert issued.status_code == 201, issued.get_json()
    assert issued.get_json()["legal_review_id"] == review["id"]
    shown = client.get(f"/api/v1/cases/{case['id']}").get_json()
    assert shown["status"] == "decided"
    assert [e["action"] for e in shown["events"]] == [
        "case.opened",
        "legal_review.requested",
        "legal_review.passed",
        "penalty_decision.issued",
    ]
    assert [e["actor"] for e in shown["events"]] == [
        "org-county-bureau",
        "org-county-bureau",
        "reviewer-cb-wang",  # the reviewer's own token, nobody acting for her
        "org-county-bureau",
    ]
    assert all(e["on_behalf_of"] is None for e in shown["events"])
    assert shown["events"][2]["data"]["reasons"] == "事实清楚,证据确凿,适用依据正确,程序合法"
    second = client.post(f"/api/v1/cases/{case['id']}/decisions", json=dict(DECISION, number="第2号"))
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "case_not_open"


def test_seed002_task1_only_a_reviewer_of_the_authority_reviews(client, session):
    case = open_case(client, session, major=True)
    review = _review(client, case["id"])
    url = f"/api/v1/legal-reviews/{review['id']}/outcome"
    outcome = {"outcome": "passed", "reasons": "同意"}
    # Signed in as themselves: the market department's reviewer, a justice bureau supervisor.
    for staff in ("reviewer-market-li", "supervisor-zhao"):
        response = client.post(url, json=outcome, headers=as_person(staff))
        assert response.status_code == 403, staff
        error = response.get_json()["error"]
        assert error["code"] == "not_a_reviewer", staff
        assert error["message"].startswith(f"{staff!r} is not a legal reviewer of 嵊泗县综合行政执法局"), error
    # The authority itself is no person: its organisation token does not review.
    for name, headers in (
        ("county bureau", BUREAU),
        ("dispatcher", {"Authorization": f"Bearer {TOKENS['dispatcher'][1]}"}),
    ):
        response = client.post(url, json=outcome, headers=headers)
        assert response.status_code == 403, name
        assert response.get_json()["error"]["code"] == "out_of_scope", name
    # Nobody names a reviewer in a header.
    forged = client.post(url, json=outcome, headers={"X-Actor": "reviewer-cb-wang"})
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "actor_not_allowed"
    # Nothing of that was recorded: the review is still pending and its reviewer passes it.
    passed = client.post(url, json=outcome, headers=REVIEWER)
    assert passed.status_code == 200, passed.get_json()
    assert passed.get_json()["reviewer"]["code"] == "reviewer-cb-wang"


def test_seed002_task4_a_failed_review_blocks_the_decision_and_its_reasons_are_recorded(client, session):
    case = open_case(client, session, major=True)
    review = _review(client, case["id"])
    no_reasons = client.post(
        f"/api/v1/legal-reviews/{review['id']}/outcome", json={"outcome": "failed"}, headers=REVIEWER
    )
    assert no_reasons.status_code == 400 and no_reasons.get_json()["error"]["field"] == "reasons"
    failed = client.post(
        f"/api/v1/legal-reviews/{review['id']}/outcome",
        json={"outcome": "failed", "reasons": "罚款幅度超出裁量基准"},
        headers=REVIEWER,
    )
    assert failed.get_json()["status"] == "failed"
    twice = client.post(
        f"/api/v1/legal-reviews/{review['id']}/outcome", json={"outcome": "passed", "reasons": "改判"}, headers=REVIEWER
    )
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "review_closed"
    refused = client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION)
    assert refused.status_code == 409 and "failed" in refused.get_json()["error"]["message"]
    second = _review(client, case["id"])
    client.post(
        f"/api/v1/legal-reviews/{second['id']}/outcome",
        json={"outcome": "passed", "reasons": "已调整"},
        headers=REVIEWER,
    )
    assert client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION).status_code == 201


def test_seed002_task1_an_ordinary_penalty_needs_no_legal_review(client, session):
    case = open_case(client, session, major=False)
    response = client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION)
    assert response.status_code == 201 and response.get_json()["legal_review_id"] is None
    duplicate = open_case(client, session)
    taken = client.post(f"/api/v1/cases/{duplicate['id']}/decisions", json=DECISION)
    assert taken.status_code == 409 and taken.get_json()["error"]["field"] == "number"


def test_seed000_2_6_a_transferred_case_carries_its_record_and_no_penalty_replaces_it(client, session):
    incident = new_incident(client)
    case = open_case(client, session, major=True, incident_id=incident["id"])
    _review(client, case["id"])
    wrong = client.post(
        f"/api/v1/cases/{case['id']}/criminal-referrals", json={"to": "shengsi-gov", "suspected_offence": "非法经营罪"}
    )
    assert wrong.status_code == 422 and wrong.get_json()["error"]["field"] == "to"
    response = client.post(
        f"/api/v1/cases/{case['id']}/criminal-referrals",
        json={"to": "shengsi-police", "suspected_offence": "非法经营罪"},
    )
    assert response.status_code == 201, response.get_json()
    referral = response.get_json()
    assert referral["status"] == "transferred" and referral["events_handed_over"] == 2
    full = client.get(f"/api/v1/criminal-referrals/{referral['id']}").get_json()
    assert [e["action"] for e in full["record"]["events"]] == ["case.opened", "legal_review.requested"]
    assert full["record"]["case"]["party"]["name"] == "嵊泗某某海鲜排档"

    blocked = client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION)
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "transferred_to_justice"
    twice = client.post(
        f"/api/v1/cases/{case['id']}/criminal-referrals",
        json={"to": "shengsi-procuratorate", "suspected_offence": "同上"},
    )
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "already_transferred"

    status_url = f"/api/v1/criminal-referrals/{referral['id']}/status"
    illegal = client.post(status_url, json={"to": "concluded"}, headers=POLICE)
    assert illegal.status_code == 409 and illegal.get_json()["error"]["allowed"] == ["accepted", "declined"]
    accepted = client.post(status_url, json={"to": "accepted", "note": "已立案"}, headers=POLICE)
    assert accepted.get_json()["status"] == "accepted"
    concluded = client.post(status_url, json={"to": "concluded"}, headers=POLICE)
    assert concluded.get_json()["status"] == "concluded"
    listed = client.get("/api/v1/criminal-referrals?status=concluded").get_json()["criminal_referrals"]
    assert [r["id"] for r in listed] == [referral["id"]]
    incident_events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    assert "criminal_referral.accepted" in [e["action"] for e in incident_events]


def test_seed000_2_6_a_declined_transfer_returns_the_case_to_the_authority(client, session):
    case = open_case(client, session)
    referral = client.post(
        f"/api/v1/cases/{case['id']}/criminal-referrals", json={"to": "shengsi-police", "suspected_offence": "涉嫌诈骗"}
    ).get_json()
    status_url = f"/api/v1/criminal-referrals/{referral['id']}/status"
    no_reason = client.post(status_url, json={"to": "declined"}, headers=POLICE)
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["field"] == "note"
    declined = client.post(status_url, json={"to": "declined", "note": "未达立案追诉标准"}, headers=POLICE)
    assert declined.status_code == 200
    assert client.get(f"/api/v1/cases/{case['id']}").get_json()["status"] == "investigating"
    assert client.post(f"/api/v1/cases/{case['id']}/decisions", json=DECISION).status_code == 201


def test_unknown_case_fields_and_ids_are_refused(client, session):
    body = case_body(session, colour="red")
    response = client.post("/api/v1/cases", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "colour"
    assert client.get("/api/v1/cases/999999").status_code == 404
    missing = client.post("/api/v1/cases", json=case_body(session, enforcer_ids=[999999]))
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "enforcer_ids[0]"


def test_evidence_files_of_a_case_are_added_by_its_authority_only_and_listed_with_the_case(client, anonymous, session):
    import io

    case = open_case(client, session)
    scan = b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"

    def add(headers, **form):
        return anonymous.post(f"/api/v1/cases/{case['id']}/evidence", headers=headers, content_type="multipart/form-data",
                              data={"file": (io.BytesIO(scan), "责令改正通知书.pdf", "application/pdf"), **form})  # fmt: skip

    refused = add(MARKET)
    assert refused.status_code == 403, refused.get_json()
    assert client.get(f"/api/v1/cases/{case['id']}").get_json()["files"] == [], "nothing stored on a refusal"
    action = "7d2f0c4e-9b1a-4c3d-8e5f-6a7b8c9d0e1f"
    stored = add(BUREAU, occurred_at="2026-11-23T10:00:00+08:00", action_id=action)
    assert stored.status_code == 201, stored.get_json()
    again = add(BUREAU, occurred_at="2026-11-23T10:00:00+08:00", action_id=action)
    assert again.status_code == 200 and again.get_json() == stored.get_json(), "a retry is the first answer"
    shown = client.get(f"/api/v1/cases/{case['id']}").get_json()
    [item] = shown["files"]
    assert (item["sha256"], item["case_id"], item["task_id"], item["media_type"], item["file_name"]) == (
        stored.get_json()["sha256"], case["id"], None, "application/pdf", "责令改正通知书.pdf"
    )  # fmt: skip
    assert item["occurred_at"].startswith("2026-11-23T02:00:00")
    added = [e for e in shown["events"] if e["action"] == "evidence.added"]
    assert [e["data"]["case_id"] for e in added] == [case["id"]], "on the case's record, once"
    missing = anonymous.post("/api/v1/cases/999999/evidence", headers=BUREAU, content_type="multipart/form-data",
                             data={"file": (io.BytesIO(scan), "x.pdf", "application/pdf")})  # fmt: skip
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "case_id"
