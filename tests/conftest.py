"""Shared fixtures: the database fixtures come from the mdocument pytest plugin."""

import os

# Keyset page tokens are sealed with the application's keys: the tests' (and the example apps'
# they start) come from the environment, as a deployed application's would.
os.environ.setdefault("MDOCUMENT_PAGE_TOKEN_KEYS", "tests-only-page-token-key-not-a-secret")
