"""The examples that end each command's help, keyed by command path (rich markup; each line under 78 columns)."""

HEADING = "[bold]Examples[/]"


def _examples(*lines: str) -> str:
    return "\n".join((HEADING, *lines))


EXAMPLES: dict[str, str] = {
    "listen": _examples(
        "whatsable listen --no-tunnel     # local only, http://127.0.0.1:4242/webhook",
        "whatsable listen -f 3000         # forward to http://localhost:3000/webhook",
        "whatsable listen --port 0 --json # a free port: the first line says which",
    ),
    "send-test": _examples(
        "whatsable send-test http://127.0.0.1:4242/webhook --no-security-checks",
        'whatsable send-test "$URL" --secret "$WHATSABLE_SECRET" --junit report.xml',
        "whatsable send-test URL --all-variants --dry-run   # show, send nothing",
    ),
    "replay": _examples(
        "whatsable replay --to http://localhost:3000/webhook   # the newest recording",
        "whatsable replay --id 3f2a1b2c --to http://localhost:3000/webhook --resign",
        "whatsable replay read image --to http://localhost:3000/webhook   # fixtures",
    ),
    "verify": _examples(
        "whatsable verify body.json -H 'X-Webhook-Signature: 6ecb…' --secret S",
        "whatsable verify --record rec.jsonl --id 3f2a1b2c --explain  # which scheme?",
        "cat body.json | whatsable verify - -H 'webhook-signature: v1,…' -H …",
    ),
    "doctor": _examples(
        "whatsable doctor                    # every check, its result and the fix",
        "whatsable doctor --no-tunnel --port 8080",
        "whatsable doctor --json | jq .ok",
    ),
    "events list": _examples(
        "whatsable events list --last 20",
        "whatsable events list --event incoming_message --since 2h",
        "whatsable events list --status failed --json | jq .id",
    ),
    "events show": _examples(
        "whatsable events show 3f2a          # a unique id prefix is enough",
        "whatsable events show 3f2a --json --show-secrets",
    ),
    "events export": _examples(
        "whatsable events export 3f2a        # a curl command that re-sends it",
        "whatsable events export 3f2a --to http://localhost:8000/hook | sh",
        "whatsable events export 3f2a --format body > body.bin",
    ),
    "events runs": _examples(
        "whatsable events runs               # every listen run: when, how long, events",
        "whatsable events runs --last 5 --json",
    ),
    "events import": _examples(
        "whatsable events import rec.jsonl   # a recording into the history",
        "whatsable events import runs/*.jsonl --strict",
    ),
    "events prune": _examples(
        "whatsable events prune --older-than 30d",
        "whatsable events prune --max-size 500MiB",
    ),
    "scenarios list": _examples(
        "whatsable scenarios list",
        "whatsable send-test URL --scenario conversation",
    ),
    "scenarios show": _examples(
        "whatsable scenarios show conversation > my-scenario.toml",
        "whatsable scenarios show my-scenario.toml   # checks a file of your own",
    ),
    "fixtures list": _examples(
        "whatsable fixtures list",
        "whatsable fixtures list --format flat --json | jq -r .name",
    ),
    "fixtures show": _examples(
        "whatsable fixtures show message_status/delivered",
        "whatsable fixtures show image | whatsable send-test URL --body-file -",
        "whatsable fixtures show teammate --format flat --json  # with its source",
    ),
    "secret generate": _examples(
        "whatsable secret generate                     # 64 hex characters",
        "whatsable secret generate --scheme standard   # whsec_…",
    ),
}
