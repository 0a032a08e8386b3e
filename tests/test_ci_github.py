"""The action's PR comment: found by its marker, updated in place or posted, against a fake
GitHub REST API served on loopback (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from runway_plan.ci.github import (
    MAX_BODY,
    CommentError,
    PullRequest,
    comment_body,
    pull_request_from_env,
    upsert_comment,
)

TOKEN = "ghs_" + "x" * 36
REPO = "acme/films"


@dataclass
class FakeGitHub:
    """Issue comments of one repository, as GitHub's REST API serves them."""

    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    fail_with: int | None = None
    next_id: int = 1000
    url: str = ""

    def add(self, number: int, body: str) -> int:
        self.next_id += 1
        self.comments.setdefault(number, []).append({"id": self.next_id, "body": body})
        return self.next_id


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length", "0"))
            return dict(json.loads(self.rfile.read(length) or b"{}"))

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            fake.requests.append((method, self.path, dict(self.headers)))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"message": "Bad credentials"})
            if fake.fail_with is not None:
                return self._send(fake.fail_with, {"message": "Resource not accessible"})
            parts = url.path.strip("/").split("/")
            if parts[:3] != ["repos", *REPO.split("/")]:
                return self._send(404, {"message": "Not Found"})
            if method in ("GET", "POST") and parts[3] == "issues" and parts[5] == "comments":
                number = int(parts[4])
                if method == "GET":
                    query = parse_qs(url.query)
                    per_page = int(query.get("per_page", ["30"])[0])
                    page = int(query.get("page", ["1"])[0])
                    found = fake.comments.get(number, [])
                    return self._send(200, found[(page - 1) * per_page : page * per_page])
                comment_id = fake.add(number, self._body()["body"])
                return self._send(201, {"id": comment_id})
            if method == "PATCH" and parts[3:5] == ["issues", "comments"]:
                comment_id = int(parts[5])
                for comments in fake.comments.values():
                    for comment in comments:
                        if comment["id"] == comment_id:
                            comment["body"] = self._body()["body"]
                            return self._send(200, comment)
            return self._send(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub API on 127.0.0.1, for as long as the context lasts."""
    fake = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


def test_posts_a_comment_then_updates_it(github: FakeGitHub) -> None:
    pull = PullRequest(github.url, REPO, 7)
    github.add(7, "a reviewer's comment")
    action, first = upsert_comment(pull, "plan v1", token=TOKEN)
    assert action == "created"
    action, second = upsert_comment(pull, "plan v2", token=TOKEN)
    assert (action, second) == ("updated", first)
    bodies = [c["body"] for c in github.comments[7]]
    assert bodies == ["a reviewer's comment", "<!-- runway-plan -->\nplan v2"]
    methods = [method for method, _path, _headers in github.requests]
    assert methods == ["GET", "POST", "GET", "PATCH"]
    for _method, _path, headers in github.requests:
        assert headers["Accept"] == "application/vnd.github+json"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_finds_its_comment_past_the_first_page(github: FakeGitHub) -> None:
    for i in range(150):
        github.add(3, f"comment {i}")
    mine = github.add(3, "<!-- ours -->\nold plan")
    github.add(3, "<!-- runway-plan -->\nanother workflow's")
    action, number = upsert_comment(
        PullRequest(github.url, REPO, 3), "new plan", token=TOKEN, marker="ours"
    )
    assert (action, number) == ("updated", mine)
    assert github.comments[3][150]["body"] == "<!-- ours -->\nnew plan"
    assert github.comments[3][151]["body"].endswith("another workflow's")
    pages = [path for method, path, _ in github.requests if method == "GET"]
    assert len(pages) == 2 and pages[1].endswith("page=2")


def test_a_refusal_is_a_comment_error_without_the_token(github: FakeGitHub) -> None:
    github.fail_with = 403
    with pytest.raises(CommentError) as caught:
        upsert_comment(PullRequest(github.url, REPO, 1), "plan", token=TOKEN)
    assert "403" in str(caught.value) and "Resource not accessible" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_unreachable_api_is_a_comment_error() -> None:
    with fake_github() as fake:
        url = fake.url
    with pytest.raises(CommentError, match="cannot reach"):
        upsert_comment(PullRequest(url, REPO, 1), "plan", token=TOKEN)


def test_a_long_body_is_cut_to_githubs_limit() -> None:
    body = comment_body("x" * (MAX_BODY * 2), "runway-plan")
    assert len(body) == MAX_BODY
    assert body.startswith("<!-- runway-plan -->\n") and "(cut:" in body
    assert comment_body("short", "m") == "<!-- m -->\nshort"


def test_the_pull_request_comes_from_the_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}), encoding="utf-8")
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
    }
    assert pull_request_from_env(env) == PullRequest("https://ghe.example.com/api/v3", REPO, 42)
    event.write_text(json.dumps({"push": {}}), encoding="utf-8")
    assert pull_request_from_env(env) is None
    event.write_text("not json", encoding="utf-8")
    assert pull_request_from_env(env) is None
    assert pull_request_from_env({}) is None


def _pull_env(tmp_path: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9}}), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    work = tmp_path / "work"
    work.mkdir()
    (work / "comment.md").write_text("## runway-plan\n", encoding="utf-8")
    return work


def test_the_comment_step_warns_without_a_token_or_permission(
    tmp_path: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from runway_plan.ci.__main__ import main

    work = _pull_env(tmp_path, github, monkeypatch)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    runner = CliRunner()
    missing = runner.invoke(main, ["comment", "--work", str(work)])
    assert missing.exit_code == 0
    assert "::warning title=runway-plan::no token in GITHUB_TOKEN" in missing.output
    assert github.requests == []
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.fail_with = 403
    refused = runner.invoke(main, ["comment", "--work", str(work)])
    assert refused.exit_code == 0
    assert "::warning title=runway-plan::cannot comment: GitHub answered 403" in refused.output
    assert TOKEN not in refused.output
    github.fail_with = None
    posted = runner.invoke(main, ["comment", "--work", str(work), "--marker", "mine"])
    assert posted.exit_code == 0
    assert f"created comment 1001 on {REPO}#9" in posted.output
    assert github.comments[9][0]["body"] == "<!-- mine -->\n## runway-plan\n"
