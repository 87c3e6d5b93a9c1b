"""The local-path client CLI assertions, run against the compose stack (tests/e2e/conftest.py)."""

from tests.integration.test_client_cli import (  # noqa: F401 (collected here with the compose `stack`)
    test_client_verifies_and_reports,
    test_unknown_model_exits_non_zero_naming_it,
)
