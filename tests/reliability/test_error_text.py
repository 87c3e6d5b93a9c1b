"""client.errors: which failures mean "server lost" (drives reconnects), and texts kept whole."""

from __future__ import annotations

from tritonclient.utils import InferenceServerException

from client.errors import explain, is_connection_error


def test_timeouts_are_not_a_lost_server_but_refusals_and_resets_are():
    assert not is_connection_error(TimeoutError("timed out"))
    assert not is_connection_error(InferenceServerException("Deadline Exceeded"))
    assert is_connection_error(ConnectionRefusedError(111, "Connection refused"))
    assert is_connection_error(InferenceServerException("[StatusCode.UNAVAILABLE] Stream removed"))
    assert not is_connection_error(InferenceServerException("inference request batch-size must"))


def test_unknown_messages_pass_through_unchanged():
    assert explain(InferenceServerException("something new")) == "something new"
    assert explain(RuntimeError()) == "RuntimeError"


def test_model_being_unloaded_says_wait_for_ready():
    message = explain(
        InferenceServerException("Request for unknown model: 'm' has no available versions")
    )
    assert "'m' is being unloaded" in message and "/v2/models/m/ready" in message
