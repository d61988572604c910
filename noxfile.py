"""Developer sessions: ``nox -s tests lint typecheck docs``. CI runs the same steps (.ci/run).

``nox -s bench`` runs the benchmark suite (not a default session: about an hour on 2 cores).
"""

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def tests(session: nox.Session) -> None:
    """The test suite, against $MONGODB_URI or an embedded SecantusDB server."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict and pyright (strict) on src/ and the typing tests."""
    session.install("-e", ".[lint]")
    session.run("mypy")
    session.run("mypy", "--strict", "tests/typing")
    session.run("pyright")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; fails on a broken link or a missing reference.

    The code blocks of the pages run in the test suite (tests/test_docs.py).
    """
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite, from a clone: crud.py (every contender), steps.py, paired.py,
    cascade.py, contention.py.

    The bench extra puts mdocument, Motor, Beanie and ODMantic in this session's environment,
    and crud.py runs every contender (each in a process of its own) with its interpreter.
    Arguments go to crud.py: ``nox -s bench -- --quick``, ``nox -s bench -- --tasks user_update``.
    """
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/crud.py", "--peers-here", *session.posargs)
    if not session.posargs:
        session.run("python", "benchmarks/steps.py")
        session.run("python", "benchmarks/paired.py", "--quiet")
        session.run("python", "benchmarks/cascade.py", "--size", "2000", "--repeat", "2")
        session.run("python", "benchmarks/contention.py")


@nox.session
def fuzz(session: nox.Session) -> None:
    """The property tests with random seeds, several times (``pytest`` and CI use fixed ones).

    ``nox -s fuzz -- 20`` runs them 20 times (default 5). A failure prints a
    ``@reproduce_failure`` blob: turn the example into an ``@example`` of the test.
    """
    session.install("-e", ".[test]")
    runs = int(session.posargs[0]) if session.posargs else 5
    for _ in range(runs):
        session.run("pytest", "-m", "hypothesis", "--hypothesis-profile", "fuzz", "-q")
