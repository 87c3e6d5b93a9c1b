"""The local-path serving assertions, run against the compose stack (tests/e2e/conftest.py)."""

from tests.integration.test_serving import *  # noqa: F403 (the same tests, another `stack`)
