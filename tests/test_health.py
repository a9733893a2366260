import pytest

from cpaas.celery import app as celery_app


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "127.0.0.1", "unknown.example"])
def test_healthz_answers_on_any_host(client, host):
    response = client.get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_broker_answer(client, db):
    response = client.get("/readyz", HTTP_HOST="127.0.0.1")
    assert response.status_code == 200


def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(client, db, tmp_path):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis+socket://{tmp_path}/nothing-listens-here.sock"
    try:
        response = client.get("/readyz", HTTP_HOST="127.0.0.1")
    finally:
        celery_app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["broker"]}
