"""Shared fixtures: the database fixtures come from the mdocument pytest plugin."""

import os

from hypothesis import settings

# Keyset page tokens are sealed with the application's keys: the tests' (and the example apps'
# they start) come from the environment, as a deployed application's would.
os.environ.setdefault("MDOCUMENT_PAGE_TOKEN_KEYS", "tests-only-page-token-key-not-a-secret")

# Property tests draw the same examples on every run of the same code (`pytest`, and so CI): a
# gate must not turn red on a commit that passed before because a new seed found an old bug.
# Random seeds go looking for new bugs on demand, a new seed per run:
#   pytest -m hypothesis --hypothesis-profile fuzz       (or: nox -s fuzz)
# A failure there prints the `@reproduce_failure` blob; add the example as an `@example`.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("fuzz", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
