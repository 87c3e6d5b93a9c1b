"""Server and connection errors translated into what went wrong and how to fix it.

Triton's own messages name the tensor, model or region but rarely the fix, and some
are misleading (an empty batch reads as a byte-size mismatch). `explain` keeps the
server's words and adds the fix, so a failed run tells the user what to change.
"""

from __future__ import annotations

import re

from stack_settings.control_key import refusal_fix

_UNREACHABLE_TEXT = re.compile(
    r"UNAVAILABLE|failed to connect|Connection refused|Connection reset|Stream removed|"
    r"connection closed",
    re.IGNORECASE,
)

# (pattern over the server's message, fix); groups name the thing the fix talks about.
_FIXES: list[tuple[re.Pattern, str]] = [
    (
        re.compile(r"unexpected inference input '(?P<tensor>[^']*)' for model '(?P<model>[^']*)'"),
        "model '{model}' has no input '{tensor}': use the input names of its config "
        "(GET /v2/models/{model}/config)",
    ),
    (
        re.compile(
            r"inference input '(?P<tensor>[^']*)' data-type is '(?P<got>\w+)', "
            r"but model '(?P<model>[^']*)' expects '(?P<want>\w+)'"
        ),
        "input '{tensor}' of model '{model}' must be {want}, not {got}: cast the array "
        "(e.g. numpy .astype) before sending",
    ),
    (
        re.compile(
            r"unexpected shape for input '(?P<tensor>[^']*)' for model '(?P<model>[^']*)'\. "
            r"Expected (?P<want>\[[^\]]*\]), got (?P<got>\[[^\]]*\])"
        ),
        "input '{tensor}' of model '{model}' has shape {got} but the model takes {want} "
        "(-1 = any size; with max_batch_size > 0 the first dim is the batch): reshape the input",
    ),
    (
        re.compile(r"batch-size must be <= (?P<limit>\d+) for '(?P<model>[^']*)'"),
        "model '{model}' takes at most {limit} items per request (max_batch_size): "
        "use --batch-size <= {limit} or split the batch",
    ),
    (
        re.compile(
            r"input byte size mismatch for input '(?P<tensor>[^']*)' for model "
            r"'(?P<model>[^']*)'\. Expected (?P<want>\d+), got 0\b"
        ),
        "input '{tensor}' of model '{model}' is empty (batch of 0 or no data): "
        "send at least one item (batch size >= 1)",
    ),
    (
        re.compile(
            r"input byte size mismatch for input '(?P<tensor>[^']*)' for model "
            r"'(?P<model>[^']*)'\. Expected (?P<want>\d+), got (?P<got>\d+)"
        ),
        "input '{tensor}' of model '{model}' carries {got} bytes but its shape needs {want}: "
        "make the data (or its shared-memory byte_size) match the shape",
    ),
    (
        re.compile(r"unknown model: '(?P<model>[^']*)' version (?P<version>\S+) is not found"),
        "model '{model}' has no version {version} loaded: leave --model-version out "
        "(the server picks) or use a version listed by POST /v2/repository/index",
    ),
    (
        re.compile(r"unknown model: '(?P<model>[^']*)' has no available versions"),
        "model '{model}' is being unloaded or is not loaded yet (server shutting down or a "
        "reload failed): wait for it to be READY (GET /v2/models/{model}/ready), then retry",
    ),
    (
        re.compile(r"unknown model: '(?P<model>[^']*)' is not found"),
        "model '{model}' is not loaded on this server: check the name against "
        "POST /v2/repository/index, or export it (python -m exporter) and load it",
    ),
    (
        re.compile(r"shared memory region '(?P<region>[^']*)' already in manager"),
        "a shared-memory region named '{region}' is already registered: unregister it first "
        "or use a unique name (this client uses tos_<pid>_w<worker>)",
    ),
    (
        re.compile(r"Invalid offset \+ byte size for shared memory region: '(?P<region>[^']*)'"),
        "shared-memory region '{region}' is smaller than the tensor's offset + byte_size: "
        "create and register the region with at least that many bytes",
    ),
    (
        re.compile(r"Unable to find shared memory region: '(?P<region>[^']*)'"),
        "shared-memory region '{region}' is not registered on this server (never registered, "
        "already unregistered, or the server restarted): register it before the request",
    ),
    (
        re.compile(r"Deadline Exceeded|timed out", re.IGNORECASE),
        "the request took longer than the client's timeout: raise --timeout, or lower "
        "--batch-size / --concurrency",
    ),
    (
        _UNREACHABLE_TEXT,
        "the server stopped answering (not running, restarting or crashed): check "
        "`make status` and the server log, then run again",
    ),
]


def explain(exc: BaseException) -> str:
    """The error's own message followed by the fix, when it is one we recognise."""
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (TimeoutError, ConnectionError)):
        message = f"{type(exc).__name__}: {message}"
    if fix := refusal_fix(message):  # first: over gRPC it reads UNAVAILABLE, the server is up
        return f"{message} -> {fix}"
    for pattern, fix in _FIXES:
        match = pattern.search(message)
        if match:
            return f"{message} -> {fix.format(**match.groupdict())}"
    return message


def is_connection_error(exc: BaseException) -> bool:
    """True when the server was unreachable (down, restarting), not slow nor refusing."""
    if isinstance(exc, TimeoutError) or is_refused_for_key(exc):
        return False
    if isinstance(exc, ConnectionError) or type(exc).__name__ == "HTTPConnectionClosed":
        return True
    return bool(_UNREACHABLE_TEXT.search(str(exc)))


def is_refused_for_key(exc: BaseException) -> bool:
    """True when the server refused a control API for a missing or wrong control key."""
    return refusal_fix(str(exc)) is not None
