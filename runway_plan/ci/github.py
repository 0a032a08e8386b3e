"""Post or update one pull-request comment through GitHub's REST API.

The comment is found by a hidden marker (an HTML comment in its body) among the pull
request's issue comments (``GET /repos/{repo}/issues/{number}/comments``, paged), then
updated in place (``PATCH /repos/{repo}/issues/comments/{id}``) or created (``POST
/repos/{repo}/issues/{number}/comments``): a pull request keeps one runway-plan comment however
many times its workflow runs.  Endpoints as documented at
https://docs.github.com/en/rest/issues/comments (API version 2022-11-28, read 2026-12-02).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runway_plan.errors import RunwayPlanError

__all__ = [
    "MAX_BODY",
    "CommentError",
    "PullRequest",
    "comment_body",
    "pull_request_from_env",
    "upsert_comment",
]

MAX_BODY = 65536
"""GitHub refuses a comment body longer than this many characters."""
API_VERSION = "2022-11-28"
PER_PAGE = 100


class CommentError(RunwayPlanError):
    """The comment could not be posted; the message never holds the token."""


@dataclass(frozen=True)
class PullRequest:
    """Where to comment: the API's base URL, ``owner/name`` and the pull request's number."""

    api_url: str
    repository: str
    number: int


def pull_request_from_env(env: dict[str, str] | None = None) -> PullRequest | None:
    """The pull request of the workflow run (``GITHUB_EVENT_PATH``'s ``pull_request``), or
    None when the run is not for one (a push, a schedule)."""
    env = dict(os.environ) if env is None else env
    event_path = env.get("GITHUB_EVENT_PATH", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not event_path or not repository:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    api_url = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    return PullRequest(api_url, repository, number)


def comment_body(markdown: str, marker: str) -> str:
    """``markdown`` under the hidden ``marker``, cut to GitHub's limit with a note when long."""
    head = f"<!-- {marker} -->\n"
    body = head + markdown
    if len(body) <= MAX_BODY:
        return body
    note = "\n\n… (cut: the full report is in the workflow run's log)\n"
    return body[: MAX_BODY - len(note)] + note


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "runway-plan-action",
    }


def _checked(response: httpx.Response, doing: str) -> Any:
    if response.status_code >= 400:
        try:
            reason = str(response.json().get("message", ""))
        except ValueError:
            reason = ""
        raise CommentError(
            f"GitHub answered {response.status_code} when {doing}"
            + (f": {reason}" if reason else "")
        )
    return response.json()


def upsert_comment(
    pull: PullRequest,
    markdown: str,
    *,
    token: str,
    marker: str = "runway-plan",
    transport: httpx.BaseTransport | None = None,
) -> tuple[str, int]:
    """Update the pull request's comment marked ``marker``, or post it: ``("updated", id)`` or
    ``("created", id)``."""
    body = comment_body(markdown, marker)
    tag = f"<!-- {marker} -->"
    repo = pull.repository
    try:
        with httpx.Client(
            base_url=pull.api_url, headers=_headers(token), transport=transport, timeout=30
        ) as http:
            page = 1
            while True:
                found = _checked(
                    http.get(
                        f"/repos/{repo}/issues/{pull.number}/comments",
                        params={"per_page": PER_PAGE, "page": page},
                    ),
                    "listing the pull request's comments",
                )
                if not isinstance(found, list):
                    raise CommentError("GitHub's list of comments is not a list")
                for comment in found:
                    if isinstance(comment, dict) and tag in str(comment.get("body", "")):
                        comment_id = int(comment["id"])
                        _checked(
                            http.patch(
                                f"/repos/{repo}/issues/comments/{comment_id}", json={"body": body}
                            ),
                            "updating the comment",
                        )
                        return "updated", comment_id
                if len(found) < PER_PAGE:
                    break
                page += 1
            created = _checked(
                http.post(f"/repos/{repo}/issues/{pull.number}/comments", json={"body": body}),
                "posting the comment",
            )
            return "created", int(created["id"])
    except httpx.HTTPError as exc:
        raise CommentError(f"cannot reach {pull.api_url}: {type(exc).__name__}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise CommentError(f"GitHub's answer is not what was expected: {exc}") from None
