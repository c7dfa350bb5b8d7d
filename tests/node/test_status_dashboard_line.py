"""acc20: a new admin reads the dashboard's address in the human `orgnode status`, as the README says."""

from node.cli.lifecycle import status_text


def _status(**extra: object) -> dict[str, object]:
    return {"name": "Youth Futures", "sector": "nonprofit", "node_id": "ab" * 32, "fingerprint": "SLGH-6PKF",
            "url": "http://127.0.0.1:8470", "running": True, "statements": 1, "own_statements": 1,
            "tls": {}, "metrics_url": None, "problems": [], **extra}


def test_status_shows_the_dashboard_address_and_how_to_sign_in() -> None:
    text = status_text(_status(dashboard_url="http://127.0.0.1:34647/"))
    assert "dashboard:   http://127.0.0.1:34647/" in text
    assert "orgnode user add" in text


def test_no_dashboard_line_when_it_is_off() -> None:
    assert "dashboard" not in status_text(_status(dashboard_url=None))
