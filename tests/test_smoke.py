from fastapi.testclient import TestClient

from markbook.settings import Settings


def test_health_reports_each_component(client: TestClient, settings: Settings) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "storage"}
    # The server makes the export directory when it starts.
    assert settings.export_dir.is_dir()


def test_unwritable_export_directory_is_unhealthy(client: TestClient, settings: Settings) -> None:
    settings.export_dir.rmdir()
    settings.export_dir.write_text("a file where the directory should be")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["status"] == "error"
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_openapi_names_the_school(client: TestClient) -> None:
    assert "Test High School" in client.get("/openapi.json").json()["info"]["description"]
