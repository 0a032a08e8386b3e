"""The registry of diagnostic codes.

Codes are stable: a code, once released, keeps its meaning; one no longer emitted stays here,
marked ``retired``, so that it is never reused for something else.  They are grouped by stage:
RP1xx source and spec, RP2xx model constraints and assets, RP3xx graph, RP4xx budget and tier,
RP5xx execution.  ``docs/diagnostics.md`` is generated from this table and tested to be current.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a code means and how severe it is by default; a ``retired`` code is never
    emitted (nor reused)."""

    title: str
    severity: str
    explanation: str
    retired: bool = False


def _c(title: str, explanation: str, severity: str = "error", *, retired: bool = False) -> CodeInfo:
    return CodeInfo(title=title, severity=severity, explanation=explanation, retired=retired)


CODES: dict[str, CodeInfo] = {
    # RP1xx: source and spec structure, templating
    "RP100": _c(
        "syntax error",
        "The file is not valid YAML or JSON, or holds a value its tag cannot read (`!!int ''`), "
        "or is not UTF-8 text. A YAML syntax error is said in runway-plan's words (an unclosed "
        "quote, a tab in the indentation, a ': ' inside a plain value, a list not closed), at "
        "the parser's position, with where the mapping, list or string it was reading starts; "
        "a JSON syntax error is Python's `json` message at its position.",
    ),
    "RP101": _c(
        "duplicate key",
        "A mapping repeats a key. YAML parsers silently keep the last one; we refuse both.",
    ),
    "RP102": _c(
        "YAML 1.1 trap",
        "An unquoted scalar that YAML 1.1 reads as another type (`no` as false, `1:30` as the "
        "sexagesimal integer 90) where a string or ratio is expected. Quote it.",
    ),
    "RP103": _c(
        "cannot read file",
        "The spec or a catalog file could not be read: it does not exist, cannot be opened, "
        "or is not a regular file (a directory, a named pipe, a device).",
    ),
    "RP104": _c(
        "invalid spec structure",
        "A spec key has the wrong type or shape (for example `steps` is not a mapping).",
    ),
    "RP105": _c("unknown spec key", "A key the spec language does not define."),
    "RP106": _c("unsupported version", "`version` is missing or not one this tool understands."),
    "RP107": _c(
        "invalid name", "Step, document and avatar names must match `[A-Za-z_][A-Za-z0-9_-]*`."
    ),
    "RP108": _c(
        "duplicate resource name",
        "Two documents (or two avatars) have the same `name`. The API has no idempotency "
        "key, so a create whose answer was lost is found again by name: keep names unique.",
        "warning",
    ),
    "RP109": _c(
        "unsafe YAML structure",
        "An alias refers to a collection that contains it, aliases would repeat more than "
        '100,000 values (a "billion laughs" document), or collections nest more than 100 '
        "levels deep. The file is refused before it is expanded.",
    ),
    "RP110": _c("template syntax error", "A Jinja expression in a string does not parse."),
    "RP111": _c(
        "undefined template variable",
        "A template uses a variable that is not defined. `item` and `index` are defined only "
        "in the templates of a step with `for_each` (not in `for_each` itself); elsewhere they "
        "are undefined, unless `vars` defines them.",
    ),
    "RP112": _c(
        "unsafe template",
        "A template tried something the sandbox forbids (attribute walks, huge values).",
    ),
    "RP113": _c(
        "template evaluation error",
        "A template raised an error while rendering, or would print a function or an iterator "
        "(`{{ range }}`, `{{ items|map('upper') }}`), whose text is a memory address.",
    ),
    "RP114": _c(
        "invalid for_each",
        "`for_each` must be a non-empty list, or a template or step reference that gives one.",
    ),
    "RP115": _c(
        "invalid --var (retired)",
        "Retired, never emitted: a `--var` option that is not `key=value` is a usage error "
        "(exit 2) naming the option. The code stays reserved and is not reused.",
        retired=True,
    ),
    "RP116": _c(
        "YAML tag not allowed",
        "A spec (or a `--var` value, or a catalog file) holds plain data: strings, numbers, "
        "booleans, null, dates, lists and mappings. Any other tag (`!!python/object/apply:...`, "
        "`!!set`, `!!binary`, `!custom`) is refused where it stands, and nothing is built from "
        "it.",
    ),
    "RP117": _c(
        "number not allowed",
        "Every number in a spec is finite (no `.nan`, `.inf`, JSON `NaN` or `1e999`) and an "
        "integer fits in 64 bits. Fields then check their own ranges (RP208).",
    ),
    "RP118": _c(
        "work limit reached",
        "Checking and planning a spec is bounded in total: generations (default 50,000), "
        "references between generations (200,000), characters rendered by templates "
        "(50,000,000), template work across all renders (20,000,000 units), diagnostics shown "
        "(1,000) and bytes read from the spec file (4 MiB). Past a limit the work stops at the "
        "place that crossed it. A spec may raise a limit with `limits: {generations: N}` up to "
        "its ceiling (generations 200,000; references 1,000,000; characters 200,000,000; "
        "template work 100,000,000; diagnostics 100,000), and `--limit NAME=N` raises any "
        "of them without a ceiling.",
    ),
    "RP119": _c(
        "diagnostics not shown",
        "A spec had more diagnostics than its `diagnostics` limit (default 1,000): the first "
        "ones are shown, errors before warnings, and this note counts the rest. Raise it with "
        "`limits: {diagnostics: N}` or `--limit diagnostics=N`.",
        "note",
    ),
    "RP120": _c(
        "unused suppression",
        "A `# runway-plan: ignore[CODE]` comment names a code that no diagnostic on its line "
        "has, though the command checks that code: the comment is stale. `validate` checks "
        "RP1xx-RP3xx and `plan` also RP4xx; a bare `# runway-plan: ignore` is never reported.",
        "warning",
    ),
    # RP2xx: model constraints and assets
    "RP200": _c("unknown endpoint", "The step's `endpoint` is not a Runway generation endpoint."),
    "RP201": _c("unknown model", "No endpoint of the API knows this model."),
    "RP202": _c("model not on endpoint", "The model exists, but not on this endpoint."),
    "RP203": _c(
        "retired model", "The API has retired this model; the message names its replacement."
    ),
    "RP204": _c("missing required field", "The model's request type requires this field."),
    "RP205": _c(
        "unknown field",
        "The model's request type has no such field. Fields spelled as in older docs "
        "(`text`, `targetLanguage`, `audioUri` on speech_to_speech) name the right one.",
    ),
    "RP206": _c("wrong type", "The value's type is not one the field accepts."),
    "RP207": _c(
        "value not allowed", "The value is not in the field's set (ratio, duration, enum)."
    ),
    "RP208": _c("value out of range", "A number outside the field's documented range."),
    "RP209": _c(
        "text length",
        "A text is empty where it must not be, or longer than the model's limit "
        "(measured in UTF-16 code units, as the API does).",
    ),
    "RP210": _c("item count", "A list has fewer or more items than the model accepts."),
    "RP211": _c(
        "model rule",
        "A rule of the model that spans several fields, as the SDK's docstrings state them: "
        "keyframe vs reference modes, a last frame needs a first, aleph2 keyframe ranges, "
        "reference tags, seedance2_5 drafts and video modes, proresProfile only with a ProRes "
        "format, adaptive and keyframe ratios, reference subject counts, kling multi-prompt "
        "shots, edits that need a reference image.",
    ),
    "RP212": _c(
        "document file not text",
        "A knowledge document's `file` must be UTF-8 plain text or Markdown (.txt, .md); "
        "the API takes no other format.",
    ),
    "RP220": _c(
        "invalid URL", "Asset URLs must be HTTPS, on a domain name (not an IP), ≤2048 chars."
    ),
    "RP221": _c(
        "invalid data URI", "A data URI must be base64 with a media type, within its limit."
    ),
    "RP222": _c(
        "local file unusable",
        "A local file the spec names (an asset or a knowledge document) does not exist, is not "
        "a regular file (a folder, a FIFO, a device), cannot be read, or is larger than what is "
        "read of it.",
    ),
    "RP223": _c(
        "wrong media type",
        "An asset's content (sniffed from its bytes, not its extension) is not the media the "
        "field takes, or is a format the API does not accept.",
    ),
    "RP224": _c(
        "asset too large", "An asset exceeds the largest size the API accepts (upload 200 MB)."
    ),
    "RP225": _c(
        "input duration",
        "A known input duration (from a local file or an upstream step) is outside what the "
        "model accepts. An upstream length known only as a range counts when the whole range "
        "is outside: generated speech is estimated from its text at the catalog's speech rate, "
        "an omitted duration spans the model's documented durations.",
    ),
    "RP226": _c(
        "unknown asset scheme",
        "An asset is neither https://, runway://, data:, a local path nor a step reference.",
    ),
    "RP227": _c(
        "input duration may be out of range",
        "An input's length is known only as a range before it runs (generated speech, "
        "estimated from its text; an omitted duration) and part of that range is outside what "
        "the model accepts. Make the input surely long (or short) enough, or set its duration.",
        "warning",
    ),
    "RP228": _c(
        "local file outside the root",
        "A local path the spec names resolves (after every symlink) outside the spec's root: "
        "the repository holding the spec, or its folder outside a repository. A spec may be "
        "untrusted input, so nothing outside is read, and the message says nothing about the "
        "file. `--allow-path DIR` opts a folder in.",
    ),
    "RP230": _c(
        "unknown model in a router",
        "A router's `settings.models.ids` names a model the catalog does not know; the API "
        "rejects unknown ids on create and update.",
    ),
    "RP231": _c(
        "no model of the router takes the input",
        "A generate step's router (one of the spec's) allows no model that takes the step's "
        "input: each allowed model refuses its duration, aspect ratio, resolution or output "
        "count. The API would refuse the request.",
    ),
    # RP3xx: graph
    "RP300": _c("unknown step", "A reference or `needs` names a step that does not exist."),
    "RP301": _c(
        "dependency cycle", "Steps depend on each other in a cycle; each edge is reported."
    ),
    "RP302": _c(
        "output index",
        "A reference's index is outside the outputs of the step, or a "
        "step with several outputs is referenced without an index, or a workflow step "
        "whose outputs are not declared (`outputs:`) is referenced.",
    ),
    "RP303": _c(
        "media type mismatch",
        "A field that takes one media type is fed a step that produces another.",
    ),
    "RP304": _c(
        "reference outside an asset field",
        "`@step` references are only allowed in fields that take a media asset.",
    ),
    "RP310": _c(
        "unknown avatar",
        "An avatar video's `avatar: @name` (or `avatarId: @name`) names no avatar of "
        "the spec's `avatars:`. Declare it there, or give the SDK's shape: `{type: "
        "runway-preset, presetId: ...}` or `{type: custom, avatarId: <id>}`.",
    ),
    "RP311": _c(
        "avatar reference with an index",
        "An avatar is one resource, not a step with outputs: it is named `@support`, never "
        "`@support[0]`.",
    ),
    "RP315": _c(
        "unknown router",
        "A generate step's `configId: @name` names no router of the spec's `routers:`. "
        "Declare it there, or give the slug of a router as `configId`.",
    ),
    "RP316": _c(
        "router reference with an index",
        "A router is one resource, not a step with outputs: it is named `@clips`, never "
        "`@clips[0]`.",
    ),
    # RP4xx: budget and tier
    "RP400": _c("over budget", "The plan's cost (the high end of a range) exceeds the budget."),
    "RP401": _c(
        "unpriced model",
        "No price is known for the model; the step is priced as unknown, never as zero.",
        "warning",
    ),
    "RP402": _c("monthly spend cap", "The plan costs more than the tier's monthly spend cap."),
    "RP403": _c(
        "daily generation cap",
        "The tier's daily caps stretch the schedule over several days.",
        "warning",
    ),
    "RP404": _c(
        "cost range", "A step's cost is a range because something is unknown statically.", "note"
    ),
    "RP405": _c(
        "budget cannot be checked",
        "A budget is set but some generations to make have no known price, so the plan cannot "
        "show that it fits. Give those models a price in the spec's `prices`.",
    ),
    "RP420": _c(
        "learned prices file",
        "`runway-prices.yaml` beside the spec (written by `runway-plan prices learn`) cannot be "
        "read, or an entry does not fit the schema of the catalog's `prices.yaml`: the entry is "
        "left out and the model is priced by the catalog. Unknown keys are kept, and warned of.",
    ),
    # RP5xx: execution
    "RP500": _c(
        "API rejected the request", "The API answered 400 or 401; the message is the API's."
    ),
    "RP501": _c(
        "task failed", "A task ended FAILED; the failure code decides whether it is retried."
    ),
    "RP502": _c(
        "possibly submitted",
        "A create request may have reached the API but its task id "
        "was never recorded; rerun with --resubmit-unknown to submit it again.",
    ),
    "RP503": _c("skipped", "A step was skipped because a step it depends on failed.", "warning"),
    "RP504": _c(
        "insufficient credits",
        "The organization's credit balance or monthly cap cannot cover the plan.",
    ),
    "RP505": _c("state locked", "Another run holds the state's lock."),
    "RP506": _c("download failed", "An output could not be downloaded or failed verification."),
    "RP507": _c(
        "run interrupted",
        "The run stopped before every generation finished (Ctrl-C, or the API stayed "
        "unreachable while tasks were in flight). Tasks in flight stay recorded with their "
        "task ids; running the spec again polls them instead of paying again.",
        "warning",
    ),
    "RP508": _c(
        "output saved beside a file",
        "The file at `outputs/<step>/<n>.<ext>` was not written by runway-plan for this "
        "generation (or was changed since), so it was left alone and the output was saved "
        "beside it under a name with its hash.",
        "warning",
    ),
    "RP509": _c(
        "run budget reached",
        "Submitting the generation could take the run's spending (billed, plus the most "
        "each task in flight may bill) over `budget.max_credits` or `--max-credits`: its "
        "price, re-priced from the measured lengths of its inputs, does not fit. It was not "
        "submitted, and the run submits nothing more.",
    ),
    "RP510": _c(
        "API unavailable",
        "The API could not be reached, or kept refusing a create with 429/503, through every "
        "retry. Nothing that could be charged was sent; run the spec again later.",
    ),
    "RP511": _c(
        "resource not reconciled",
        "A document, voice or avatar could not be created, updated, read or deleted (the API "
        "failed, or its input could not be read); the state keeps what was applied before. "
        "Run the spec again.",
    ),
    "RP512": _c(
        "avatar processing failed",
        "An avatar ended FAILED (the message is the API's `failureReason`), disappeared while "
        "processing, or was still PROCESSING when the run gave up waiting (the next run "
        "checks it again). Change its `referenceImage`, or rerun with `--retry-failed` to "
        "process the same image again. A custom voice is reported the same way: change its "
        "sample or design, or rerun with `--retry-failed` to make it again.",
    ),
    "RP513": _c(
        "resource left in place",
        "A document, voice or avatar recorded in the state is no longer in the spec; `run` "
        "leaves "
        "the remote object alone unless `--prune` is given.",
        "warning",
    ),
    "RP514": _c(
        "resource create in doubt",
        "A create of a document, voice or avatar may have reached the API without its answer, "
        "and "
        "the remote list could not be read to find the object (the API has no idempotency "
        "key). Nothing is created again until it has been looked up by name; run again.",
    ),
    "RP515": _c(
        "resource drift",
        "A document, voice or avatar was changed or deleted outside runway-plan; the run put it "
        "back "
        "as the spec says (updated, or created again).",
        "note",
    ),
    "RP516": _c(
        "symlink in the way",
        "Something runway-plan writes (the state folder, its lock, journal, store or run log, "
        "an outputs folder or file) is a symlink, or not a file or folder as it should be. "
        "runway-plan never writes through a symlink, which a hostile checkout could point at "
        "any file of yours: remove it, and run again.",
    ),
    "RP517": _c(
        "run state unreadable",
        "The run state beside the spec (its journal) is corrupt, too large, not a journal, or "
        "its queries took too long; `plan` shows no reuse from it and `status` cannot show "
        "it. It is read from a private copy, so nothing beside the spec is written. Move it "
        "away (or give another folder with --state) to start afresh.",
        "warning",
    ),
}


_SHOWN_TEXT = [
    "## How a spec's text is shown",
    "",
    "A spec may come from a pull request nobody has reviewed. Every name, key, value, path and",
    "message it puts in an output is shown, in every format of every command, so that it cannot",
    "add a line, an annotation, a colour or Markdown of its own:",
    "",
    "- A character that acts instead of being seen is written as a visible escape, as in a",
    "  Python string literal: `\\n`, `\\r`, `\\t`; `\\xNN` for the other control characters",
    "  (`\\x1b`, which starts ANSI colours and OSC 8 hyperlinks, the bell `\\x07`, backspace",
    "  `\\x08`, DEL and the C1 controls `\\x80`-`\\x9f`); `\\uNNNN` (`\\UNNNNNNNN` past U+FFFF)",
    "  for the invisible formatting characters (bidirectional overrides, embeddings, isolates",
    "  and marks such as `\\u202e`, zero-width spaces, the byte order mark, soft hyphens, tag",
    "  characters), the line and paragraph separators, lone surrogates and noncharacters. The",
    "  zero-width joiner and non-joiner, which emoji and several scripts need, are kept. A",
    "  backslash is not doubled: `\\n` is a line feed of the spec or the two characters.",
    "- No line of text is a CI workflow command: a line whose first non-blank characters are",
    "  `::` starts with `\\x3a:` instead, and the `#` that would make `##[` (or Azure's",
    "  `##vso[`) is `\\x23`. `--format github` writes one annotation per diagnostic, its",
    "  message and file escaped as GitHub's actions/toolkit does (`escapeData`: `%`, CR, LF;",
    "  `escapeProperty`: also `:` and `,`).",
    "- JSON and SARIF mean exactly what the spec wrote; the same characters are `\\uXXXX`",
    "  escapes there (`\\u0023` for that `#`), so the document stays valid and safe to print.",
    "- Markdown (`plan` and `diff --format markdown`) shows a spec's text in code spans, fenced",
    "  with more backticks than the text holds and with `|` escaped in tables: never a heading,",
    "  a link, an image, HTML, a comment or an @-mention. Mermaid labels use Mermaid's entity",
    '  codes (`#34;` for a quote, `#35;` for `#`), DOT strings escape `\\` and `"`, and the',
    "  Gantt chart (SVG or HTML) escapes XML.",
    "",
]


def codes_markdown() -> str:
    """The reference page of every code (``docs/diagnostics.md``)."""
    lines = [
        "# Diagnostic codes",
        "",
        "Generated from `runway_plan/diagnostics/codes.py` by `runway-plan codes --markdown`;",
        "a test fails when this page is stale. Codes are stable: RP1xx source and spec, RP2xx",
        "model constraints and assets, RP3xx graph, RP4xx budget and tier, RP5xx execution.",
        "",
        "Every diagnostic prints as `path:line:col: CODE message` (1-based line and column), then",
        "the frame of the spec's line with carets (`^^^`) under the span, and an optional `hint:`",
        "line. Warnings and notes carry `[warning]` / `[note]` after the code; only errors make",
        "`validate`, `plan` and `run` exit with 1.",
        "",
        *_SHOWN_TEXT,
    ]
    for code, info in CODES.items():
        lines += [f"## {code}", "", f"**{info.title}** ({info.severity}). {info.explanation}", ""]
    return "\n".join(lines)
