"""The member's command line: every operation of the signed API as a ``creditreg client``
command, so that a member tries the API without writing signing code.

Each command signs its requests with the member's key (``--url``, ``--key``, ``--key-id``,
or ``CREDITREG_CLIENT_URL`` and ``CREDITREG_CLIENT_KEY``), prints a readable answer (or the
registry's JSON with ``--json``), and exits 1 with the registry's problem document when the
registry refuses, or with one line when it cannot be reached.
"""

from __future__ import annotations

import csv
import functools
import http.client
import io
import json
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import click

from api.client import ApiResponse, RegistryClient, RequestSigner
from registry.querylog import QueryPurpose

F = TypeVar("F", bound=Callable[..., Any])

PURPOSES = [str(p) for p in QueryPurpose]
JSON = "application/json"
# Problem members shown apart (the first line, and the field errors).
PROBLEM_HEAD = ("type", "title", "status", "detail", "errors", "instance")


# --- what every command shares ---------------------------------------------------------------


def connect(url: str, key_path: Path, key_id: str | None) -> RegistryClient:
    """The client that signs with the member's key.

    :raises click.BadParameter: a key file that holds no usable private key, or a URL that
        is not http(s).
    """
    try:
        signer = RequestSigner.from_pem_file(key_path, key_id=key_id)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(f"not a usable private key: {exc}", param_hint="--key") from None
    try:
        return RegistryClient(url, signer)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from None


def registry_options(command: F) -> F:
    """``--url``, ``--key`` and ``--key-id`` (or CREDITREG_CLIENT_URL, CREDITREG_CLIENT_KEY);
    the command receives them as ``client``, a :class:`RegistryClient` signing with the key."""

    @click.option(
        "--url",
        required=True,
        envvar="CREDITREG_CLIENT_URL",
        help="the registry's base URL, e.g. https://registry.example (or CREDITREG_CLIENT_URL)",
    )
    @click.option(
        "--key",
        "key_path",
        required=True,
        envvar="CREDITREG_CLIENT_KEY",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="your private key, PEM (or CREDITREG_CLIENT_KEY)",
    )
    @click.option("--key-id", default=None, help="registered key id; default: the key's thumbprint")
    @functools.wraps(command)
    def with_client(*args: Any, url: str, key_path: Path, key_id: str | None, **kwargs: Any) -> Any:
        return command(*args, client=connect(url, key_path, key_id), **kwargs)

    return with_client  # type: ignore[return-value]


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="print the registry's JSON")(
        command
    )


def send(
    client: RegistryClient,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    content_type: str | None = None,
) -> ApiResponse:
    """One signed request; the answer, whatever its status.

    :raises click.ClickException: the registry cannot be reached (one line, exit 1).
    """
    try:
        return client.request(method, path, body=body, content_type=content_type)
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise click.ClickException(
            f"the registry at {client.base_url} is unreachable ({reason})"
        ) from None


def call(
    client: RegistryClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, Any] | None = None,
    json_body: Any = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> ApiResponse:
    """A signed request that must succeed: ``query`` is encoded onto the path (None values
    left out), ``json_body`` sent as JSON.

    :raises click.ClickException: the registry refuses (its problem document, exit 1), or
        cannot be reached.
    """
    if query:
        given = {name: value for name, value in query.items() if value is not None}
        if given:
            path += "?" + urlencode(given, quote_via=quote)
    if json_body is not None:
        body = json.dumps(json_body, ensure_ascii=False).encode()
        content_type = JSON
    response = send(client, method, path, body=body, content_type=content_type)
    if not response.ok:
        raise click.ClickException(describe_problem(response))
    return response


def describe_problem(response: ApiResponse) -> str:
    """The registry's refusal as lines: status, title and type; its detail; every field
    error; then any other member of the problem document (``current_status``, ...)."""
    problem = response.body
    if not isinstance(problem, dict):
        text = str(problem or "").strip().splitlines()
        return f"the registry answered {response.status}: {text[0][:200] if text else 'no body'}"
    lines = [
        f"the registry refused ({response.status} {problem.get('title', '')}, "
        f"{problem.get('type', 'no problem type')})"
    ]
    if problem.get("detail"):
        lines.append(str(problem["detail"]))
    for error in problem.get("errors") or []:
        lines.append(f"  {error.get('field')}: {error.get('message')}")
    for name, value in problem.items():
        if name not in PROBLEM_HEAD:
            lines.append(f"{name}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


def _width(text: str) -> int:
    """Columns a terminal gives the text: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def echo_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Rows under a header, each column as wide as its widest cell (Chinese names too)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(columns)]
    for row in [list(columns), *cells]:
        padded = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        click.echo("  ".join(padded).rstrip())


def echo_fields(data: Mapping[str, Any], names: Sequence[str] | None = None) -> None:
    """``name: value`` lines for the fields that hold a value."""
    for name in names or list(data):
        value = data.get(name)
        if value is None or isinstance(value, dict | list):
            continue
        click.echo(f"{name}: {value}")


def _segment(value: str) -> str:
    """An id placed in a path, encoded so that it stays one segment."""
    return quote(value, safe="")


def purpose_option(command: F) -> F:
    return click.option(
        "--purpose",
        required=True,
        type=click.Choice(PURPOSES),
        help="why you look: recorded in the registry's query log",
    )(command)


def charset_option(command: F) -> F:
    """The charset a CSV is sent as, declared to the registry (which never guesses it)."""
    return click.option(
        "--charset",
        default="utf-8",
        show_default=True,
        help="the CSV's charset, e.g. gbk for a file saved by Excel on Chinese Windows",
    )(command)


# --- search ----------------------------------------------------------------------------------


@click.command("search")
@click.argument("query", required=False)
@purpose_option
@click.option("--kind", type=click.Choice(["enterprise", "shop", "person"]), default=None)
@click.option("--region", default=None, help="six-digit GB/T 2260 code")
@click.option("--list", "list_kind", default=None, help="only subjects on this list")
@click.option("--id-number", default=None, help="a person's ID number (with --consent)")
@click.option("--consent", default=None, help="the consent id a person's lookup needs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@json_option
@registry_options
def search(
    client: RegistryClient,
    query: str | None,
    purpose: str,
    kind: str | None,
    region: str | None,
    list_kind: str | None,
    id_number: str | None,
    consent: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find subjects by name (Chinese, pinyin or initials), USCC or shop id:
    GET /api/v1/subjects, page after page up to --limit hits."""
    hits: list[dict[str, Any]] = []
    total = 0
    after: str | None = None
    while len(hits) < limit:
        page = call(
            client,
            "GET",
            "/api/v1/subjects",
            query={
                "q": query,
                "purpose": purpose,
                "kind": kind,
                "region": region,
                "list": list_kind,
                "id_number": id_number,
                "consent": consent,
                "size": min(100, limit - len(hits)),
                "after": after,
            },
        ).body
        hits.extend(page["hits"])
        total = page["total"]
        after = page.get("next")
        if not after or not page["hits"]:
            break
    if as_json:
        echo_json({"hits": hits, "total": total})
        return
    echo_table(
        ["ID", "KIND", "NAME", "USCC / SHOP", "REGION", "LISTS", "GRADE", "RECORDS (NEG)"],
        [
            (
                hit["id"],
                hit["kind"],
                hit["name"] + (" [disputed]" if hit.get("disputed") else ""),
                hit.get("uscc") or hit.get("shop_id"),
                hit.get("region"),
                ",".join(hit.get("lists") or []),
                hit.get("grade"),
                _record_counts(hit.get("record_counts") or {}),
            )
            for hit in hits
        ],
    )
    click.echo(f"{len(hits)} of {total} result(s)", err=True)


def _record_counts(counts: Mapping[str, Any]) -> str:
    return f"{counts.get('total', 0)} ({counts.get('negative', 0)})"


# --- screening -------------------------------------------------------------------------------


@click.command("screen")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@purpose_option
@click.option(
    "--out",
    "out_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="where the result CSV goes; default: standard output",
)
@charset_option
@click.option("--bom", is_flag=True, help="start the result with a UTF-8 byte-order mark (Excel)")
@click.option("--all-or-nothing", is_flag=True, help="refuse the whole file for one bad row")
@click.option(
    "--poll",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.05),
    help="seconds between progress checks of a large screening, which the registry runs as a job",
)
@registry_options
def screen(
    client: RegistryClient,
    csv_file: Path,
    purpose: str,
    out_path: Path | None,
    charset: str,
    bom: bool,
    all_or_nothing: bool,
    poll: float,
) -> None:
    """Screen a CSV of names and codes (columns name, uscc, region, reference) against the
    registry: POST /api/v1/screening, and write the result as CSV.

    A file above the registry's size for an answer at once becomes a job: its progress is
    shown on standard error until it is done, then its result is fetched.
    """
    result = {"format": "csv", "bom": "1" if bom else None}
    answer = call(
        client,
        "POST",
        "/api/v1/screening",
        query={
            "purpose": purpose,
            "all_or_nothing": "true" if all_or_nothing else None,
            **result,
        },
        body=csv_file.read_bytes(),
        content_type=f"text/csv; charset={charset}",
    )
    if answer.status == 202:
        location = answer.headers["Location"]
        _wait_for_job(client, location, answer.body, poll)
        answer = call(client, "GET", location + "/result", query=result)
    if out_path is None:
        click.echo(answer.raw, nl=False)
    else:
        out_path.write_bytes(answer.raw)
    rows = list(csv.DictReader(io.StringIO(answer.raw.decode("utf-8-sig"))))
    decisions: dict[str, int] = {}
    for row in rows:
        decisions[row["decision"]] = decisions.get(row["decision"], 0) + 1
    counts = ", ".join(f"{n} {decision or 'refused'}" for decision, n in sorted(decisions.items()))
    click.echo(f"{len(rows)} row(s) screened: {counts}", err=True)
    if out_path is not None:
        click.echo(f"result in {out_path}", err=True)


def _wait_for_job(
    client: RegistryClient, location: str, progress: dict[str, Any], poll: float
) -> None:
    """Show the job's progress on standard error until it is done.

    :raises click.ClickException: the job failed.
    """
    click.echo(f"screening job {progress['id']} ({location})", err=True)
    while True:
        click.echo(
            f"  {progress['status']}: {progress['done_rows']} of {progress['total_rows']} rows",
            err=True,
        )
        if progress["status"] == "done":
            return
        if progress["status"] == "failed":
            raise click.ClickException(f"the screening job failed: {progress.get('error')}")
        time.sleep(poll)
        progress = call(client, "GET", location).body


# --- reports ---------------------------------------------------------------------------------

REPORT_SUFFIXES = {"json": "", "html": ".html", "pdf": ".pdf"}


@click.command("report")
@click.argument("subject_id")
@purpose_option
@click.option("--consent", default=None, help="the consent id a report on a person needs")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(list(REPORT_SUFFIXES)),
    default="pdf",
    show_default=True,
)
@click.option(
    "--out",
    "out_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the file to write; default: credit-report-REPORT_ID.FORMAT",
)
@registry_options
def report(
    client: RegistryClient,
    subject_id: str,
    purpose: str,
    consent: str | None,
    report_format: str,
    out_path: Path | None,
) -> None:
    """Generate a credit report on a subject (GET /api/v1/subjects/ID/report) and save it
    as JSON, printable HTML or PDF (from /api/v1/reports/REPORT_ID)."""
    issued = call(
        client,
        "GET",
        f"/api/v1/subjects/{_segment(subject_id)}/report",
        query={"purpose": purpose, "consent": consent},
    )
    location = issued.headers["Location"]
    report_id = location.rsplit("/", 1)[-1]
    content = issued.raw
    if report_format != "json":
        content = call(client, "GET", location + REPORT_SUFFIXES[report_format]).raw
    out_path = out_path or Path(f"credit-report-{report_id}.{report_format}")
    out_path.write_bytes(content)
    click.echo(f"report {report_id} (digest {issued.body['digest']}) in {out_path}")


# --- objections ------------------------------------------------------------------------------


@click.group("objections")
def objections() -> None:
    """Object to a record, a list entry or a rating; follow and answer objections."""


OBJECTION_FIELDS = (
    "id",
    "item_kind",
    "item_id",
    "subject_id",
    "status",
    "disputed",
    "filed_at",
    "due_at",
    "outcome",
    "reason",
    "statement",
)


@objections.command("file")
@click.argument("item_id")
@click.option(
    "--item-kind",
    type=click.Choice(["record", "list_entry", "rating"]),
    default="record",
    show_default=True,
)
@click.option("--grounds", required=True, help="why the item is wrong, with the facts")
@click.option("--statement", default=None, help="the subject's statement beside the item")
@json_option
@registry_options
def objections_file(
    client: RegistryClient,
    item_id: str,
    item_kind: str,
    grounds: str,
    statement: str | None,
    as_json: bool,
) -> None:
    """File an objection (POST /api/v1/objections)."""
    filed = call(
        client,
        "POST",
        "/api/v1/objections",
        json_body={
            "item_kind": item_kind,
            "item_id": item_id,
            "grounds": grounds,
            **({"statement": statement} if statement is not None else {}),
        },
    ).body
    if as_json:
        echo_json(filed)
        return
    # A notice objection or a rating appeal is answered nested; an objection flat.
    inner = filed.get("objection") or filed.get("appeal") or filed
    click.echo(f"filed {filed.get('delegated_to') or 'objection'} {inner.get('id')}")
    echo_fields(inner, [n for n in OBJECTION_FIELDS if n != "id"])


@objections.command("list")
@click.option(
    "--role",
    type=click.Choice(["answerer", "filer"]),
    default="answerer",
    show_default=True,
    help="objections you must answer, or those you filed",
)
@click.option("--status", default=None, help="only objections in this status")
@json_option
@registry_options
def objections_list(client: RegistryClient, role: str, status: str | None, as_json: bool) -> None:
    """Your objections (GET /api/v1/objections)."""
    answer = call(client, "GET", "/api/v1/objections", query={"role": role, "status": status}).body
    if as_json:
        echo_json(answer)
        return
    echo_table(
        ["ID", "ITEM", "ITEM ID", "STATUS", "DUE", "OUTCOME"],
        [
            (o["id"], o["item_kind"], o["item_id"], o["status"], o["due_at"], o["outcome"])
            for o in answer["objections"]
        ],
    )
    notice = answer.get("notice_objections") or []
    if notice:
        click.echo("\nobjections in a list entry's notice window:")
        echo_table(
            ["ID", "ENTRY", "ENTRY STATE", "STATUS"],
            [(o.get("id"), o["entry_id"], o["entry_state"], o.get("status")) for o in notice],
        )


@objections.command("show")
@click.argument("objection_id")
@json_option
@registry_options
def objections_show(client: RegistryClient, objection_id: str, as_json: bool) -> None:
    """One objection (GET /api/v1/objections/ID)."""
    _show_objection(call(client, "GET", f"/api/v1/objections/{_segment(objection_id)}"), as_json)


@objections.command("answer")
@click.argument("objection_id")
@click.option(
    "--outcome",
    required=True,
    type=click.Choice(["corrected", "revoked", "upheld"]),
    help="corrected: you sent a corrected record; revoked: the item is taken back; upheld",
)
@click.option("--reason", required=True, help="your answer's reasons")
@json_option
@registry_options
def objections_answer(
    client: RegistryClient, objection_id: str, outcome: str, reason: str, as_json: bool
) -> None:
    """Answer an objection to an item you submitted (POST /api/v1/objections/ID/answer)."""
    _show_objection(
        call(
            client,
            "POST",
            f"/api/v1/objections/{_segment(objection_id)}/answer",
            json_body={"outcome": outcome, "reason": reason},
        ),
        as_json,
    )


@objections.command("statement")
@click.argument("objection_id")
@click.argument("text")
@json_option
@registry_options
def objections_statement(
    client: RegistryClient, objection_id: str, text: str, as_json: bool
) -> None:
    """The subject's statement, shown beside the item (POST /api/v1/objections/ID/statement);
    only the member that represents the subject adds it."""
    _show_objection(
        call(
            client,
            "POST",
            f"/api/v1/objections/{_segment(objection_id)}/statement",
            json_body={"statement": text},
        ),
        as_json,
    )


def _show_objection(response: ApiResponse, as_json: bool) -> None:
    if as_json:
        echo_json(response.body)
    else:
        echo_fields(response.body, OBJECTION_FIELDS)


# --- monitoring ------------------------------------------------------------------------------


@click.group("monitoring")
def monitoring() -> None:
    """Your portfolio of watched subjects, its events, and the webhook they go to."""


@monitoring.group("portfolio")
def portfolio() -> None:
    """The subjects you watch."""


def _items(subjects: Sequence[str]) -> list[dict[str, str]]:
    """Each subject by its id (a UUID) or its USCC."""
    items = []
    for subject in subjects:
        try:
            items.append({"subject_id": str(uuid.UUID(subject))})
        except ValueError:
            items.append({"uscc": subject})
    return items


def _portfolio_change(
    client: RegistryClient,
    method: str,
    path: str,
    subjects: Sequence[str],
    csv_file: Path | None,
    charset: str,
) -> None:
    if bool(subjects) == (csv_file is not None):
        raise click.UsageError("name the subjects (ids or USCCs), or give --file, not both")
    if csv_file is not None:
        answer = call(
            client,
            method,
            path,
            body=csv_file.read_bytes(),
            content_type=f"text/csv; charset={charset}",
        )
    else:
        answer = call(client, method, path, json_body={"items": _items(subjects)})
    change = answer.body
    click.echo(f"{change['added']} added, {change['removed']} removed; {change['total']} watched")


def _portfolio_command(name: str, method: str, path: str, doc: str) -> click.Command:
    @click.argument("subjects", nargs=-1)
    @click.option(
        "--file",
        "csv_file",
        default=None,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="a CSV with a subject_id and/or a uscc column",
    )
    @charset_option
    @registry_options
    def change(
        client: RegistryClient, subjects: tuple[str, ...], csv_file: Path | None, charset: str
    ) -> None:
        _portfolio_change(client, method, path, subjects, csv_file, charset)

    change.__doc__ = doc
    return click.command(name)(change)


portfolio.add_command(
    _portfolio_command(
        "add",
        "POST",
        "/api/v1/monitoring/portfolio",
        "Watch subjects, named by id or USCC (POST /api/v1/monitoring/portfolio).",
    )
)
portfolio.add_command(
    _portfolio_command(
        "replace",
        "PUT",
        "/api/v1/monitoring/portfolio",
        "Watch these subjects and no others (PUT /api/v1/monitoring/portfolio).",
    )
)
portfolio.add_command(
    _portfolio_command(
        "remove",
        "POST",
        "/api/v1/monitoring/portfolio/removals",
        "Stop watching subjects (POST /api/v1/monitoring/portfolio/removals).",
    )
)


@portfolio.command("list")
@json_option
@registry_options
def portfolio_list(client: RegistryClient, as_json: bool) -> None:
    """Every subject you watch (GET /api/v1/monitoring/portfolio, page after page)."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = call(
            client,
            "GET",
            "/api/v1/monitoring/portfolio",
            query={"limit": 1000, "after": after},
        ).body
        items.extend(page["items"])
        after = page.get("next_after")
        if not after:
            break
    if as_json:
        echo_json({"items": items, "total": len(items)})
        return
    echo_table(
        ["SUBJECT ID", "KIND", "NAME", "USCC", "ADDED"],
        [(i["subject_id"], i["kind"], i["name"], i["uscc"], i["added_at"]) for i in items],
    )
    click.echo(f"{len(items)} watched", err=True)


@monitoring.command("events")
@click.option("--after", default=0, show_default=True, type=click.IntRange(0), help="event id")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@json_option
@registry_options
def events(client: RegistryClient, after: int, limit: int, as_json: bool) -> None:
    """Changes to the subjects you watch, after an event id (GET /api/v1/monitoring/events)."""
    page = call(
        client, "GET", "/api/v1/monitoring/events", query={"after": after, "limit": limit}
    ).body
    if as_json:
        echo_json(page)
        return
    echo_table(
        ["ID", "TYPE", "SUBJECT ID", "ITEM", "AT"],
        [(e["id"], e["type"], e["subject_id"], e["item_id"], e["at"]) for e in page["events"]],
    )
    more = " (more: run again with it)" if page["more"] else ""
    click.echo(f"{len(page['events'])} event(s); next --after {page['next_after']}{more}", err=True)


@monitoring.group("webhook")
def webhook() -> None:
    """Where the registry posts your events, signed with its key."""


@webhook.command("set")
@click.argument("hook_url", metavar="URL")
@json_option
@registry_options
def webhook_set(client: RegistryClient, hook_url: str, as_json: bool) -> None:
    """Send events to URL (PUT /api/v1/monitoring/webhook)."""
    answer = call(client, "PUT", "/api/v1/monitoring/webhook", json_body={"url": hook_url})
    _show_webhook(answer, as_json)


@webhook.command("show")
@json_option
@registry_options
def webhook_show(client: RegistryClient, as_json: bool) -> None:
    """The webhook and its recent deliveries (GET /api/v1/monitoring/webhook)."""
    answer = call(client, "GET", "/api/v1/monitoring/webhook")
    _show_webhook(answer, as_json)
    if not as_json and answer.body.get("recent_deliveries"):
        click.echo("recent deliveries:")
        echo_table(
            ["ID", "STATUS", "EVENTS", "ATTEMPTS", "CREATED", "LAST ERROR"],
            [
                (d["id"], d["status"], d["events"], d["attempts"], d["created_at"], d["last_error"])
                for d in answer.body["recent_deliveries"]
            ],
        )


@webhook.command("delete")
@registry_options
def webhook_delete(client: RegistryClient) -> None:
    """Stop sending events (DELETE /api/v1/monitoring/webhook)."""
    call(client, "DELETE", "/api/v1/monitoring/webhook")
    click.echo("webhook removed")


def _show_webhook(response: ApiResponse, as_json: bool) -> None:
    if as_json:
        echo_json(response.body)
    else:
        echo_fields(response.body, ["url", "signing_key_id", "delivered_through", "updated_at"])


# --- consents --------------------------------------------------------------------------------


@click.group("consents")
def consents() -> None:
    """The consents of persons that their lookups and reports need."""


@consents.command("add")
@click.option("--subject", "subject_id", default=None, help="the person's subject id")
@click.option("--id-number", default=None, help="or the person's ID number")
@click.option("--reference", required=True, help="your reference of the signed consent you keep")
@purpose_option
@click.option("--given-on", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--valid-until", required=True, type=click.DateTime(["%Y-%m-%d"]))
@json_option
@registry_options
def consents_add(
    client: RegistryClient,
    subject_id: str | None,
    id_number: str | None,
    reference: str,
    purpose: str,
    given_on: Any,
    valid_until: Any,
    as_json: bool,
) -> None:
    """Record a person's consent (POST /api/v1/consents); prints its id."""
    if (subject_id is None) == (id_number is None):
        raise click.UsageError("name the person by --subject or by --id-number")
    body: dict[str, Any] = {
        "reference": reference,
        "purpose": purpose,
        "given_on": _date(given_on),
        "valid_until": _date(valid_until),
    }
    body.update({"subject_id": subject_id} if subject_id else {"id_number": id_number})
    _show_consent(call(client, "POST", "/api/v1/consents", json_body=body), as_json)


@consents.command("revoke")
@click.argument("consent_id")
@json_option
@registry_options
def consents_revoke(client: RegistryClient, consent_id: str, as_json: bool) -> None:
    """Revoke a consent (DELETE /api/v1/consents/ID)."""
    _show_consent(call(client, "DELETE", f"/api/v1/consents/{_segment(consent_id)}"), as_json)


def _date(value: Any) -> str:
    day: date = value.date()
    return day.isoformat()


CONSENT_FIELDS = (
    "id",
    "subject_id",
    "reference",
    "purpose",
    "given_on",
    "valid_until",
    "revoked_at",
)


def _show_consent(response: ApiResponse, as_json: bool) -> None:
    if as_json:
        echo_json(response.body)
    else:
        echo_fields(response.body, CONSENT_FIELDS)


COMMANDS = (search, screen, report, objections, monitoring, consents)
