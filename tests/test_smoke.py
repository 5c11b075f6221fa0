from fastapi.testclient import TestClient


def test_health_reports_each_component(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
