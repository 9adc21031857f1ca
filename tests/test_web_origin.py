"""channels/web_origin.py: the origins Rasa's CORS answers, whatever `--cors` says (the servers' test is
in tests/test_agent_console.py)."""

from __future__ import annotations

import pytest
import rasa.server

from channels import web_origin


def test_the_web_pages_origins_and_star_standing_for_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(web_origin.ORIGIN_VARIABLE, raising=False)
    assert web_origin.allowed_origins("*") == ["http://localhost:8080", "http://127.0.0.1:8080"]
    monkeypatch.setenv(web_origin.ORIGIN_VARIABLE, "https://cs.example.com/, http://10.0.0.5:8080")
    assert web_origin.allowed_origins(None) == ["https://cs.example.com", "http://10.0.0.5:8080"]
    assert web_origin.allowed_origins(["*", "https://other.example"]) == [
        "https://cs.example.com",
        "http://10.0.0.5:8080",
        "https://other.example",
    ]
    monkeypatch.setenv(web_origin.ORIGIN_VARIABLE, "* javascript:alert(1)")  # not origins: the defaults
    assert web_origin.allowed_origins("*") == ["http://localhost:8080", "http://127.0.0.1:8080"]


def test_rasa_is_given_the_origins_in_place_of_star(monkeypatch: pytest.MonkeyPatch) -> None:
    given = []
    monkeypatch.setattr(rasa.server, "configure_cors", lambda app, origins="": given.append(origins))
    monkeypatch.setenv(web_origin.ORIGIN_VARIABLE, "http://localhost:9000")
    web_origin.install()
    web_origin.install()  # once: not wrapped twice
    rasa.server.configure_cors(None, "*")  # what `rasa run --cors "*"` calls
    assert given == [["http://localhost:9000"]]
