"""The tamper-evident record: a hash chain built by the database, verified by a command."""

import psycopg

from tests.factories import incident_body


def _write_some_history(client):
    incident = client.post("/api/v1/incidents", json=incident_body()).get_json()
    squads = {
        f["properties"]["code"]: f["properties"]["id"] for f in client.get("/api/v1/squads").get_json()["features"]
    }
    task = client.post(
        f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squads["cb-shengshan"]]}
    ).get_json()["tasks"][0]
    client.post(f"/api/v1/tasks/{task['id']}/transition", json={"to": "acknowledged"})
    return incident


def test_an_intact_record_verifies(client, runner):
    _write_some_history(client)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "verified 5 events" in result.output  # created, dispatched, squad busy, incident dispatched, ack


def test_a_row_changed_behind_the_servers_back_is_named(client, runner, database_url):
    _write_some_history(client)
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:  # the superuser, bypassing the append-only trigger
        target = conn.execute("SELECT id FROM event ORDER BY chain_seq OFFSET 2 LIMIT 1").fetchone()[0]
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE event SET actor = 'someone else' WHERE id = %s", (target,))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {target} fails verification" in result.output
    assert "does not match its hash" in result.output


def test_a_removed_row_breaks_the_next_link(client, runner, database_url):
    _write_some_history(client)
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        victim, following = [
            r[0] for r in conn.execute("SELECT id FROM event ORDER BY chain_seq OFFSET 3 LIMIT 2").fetchall()
        ]
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM event WHERE id = %s", (victim,))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"event {following} fails verification" in result.output


def test_the_chain_finds_the_previous_event_by_index(database_url):
    """Recording a change must not scan the whole record: the trigger's lookup is an index scan."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        source = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'event_chain'").fetchone()[0]
        lookup = next(line for line in source.splitlines() if "FROM event" in line).strip()
        query = lookup.replace("SELECT * INTO last FROM", "SELECT * FROM").rstrip(";")
        with conn.transaction():
            conn.execute(
                "INSERT INTO event (actor, action, entity_type, entity_id) "
                "SELECT 'test', 'test.filler', 'test', g FROM generate_series(1, 3000) g"
            )
            conn.execute("ANALYZE event")
            plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}"))
            found = conn.execute(f"SELECT chain_seq FROM ({query}) q").fetchone()[0]
            newest = conn.execute("SELECT max(chain_seq) FROM event").fetchone()[0]
        assert "Index Scan Backward" in plan and "Seq Scan" not in plan, plan
        assert found == newest >= 3000
