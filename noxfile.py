"""Developer sessions: ``nox -s tests lint typecheck docs``. CI runs the same steps (.ci/run)."""

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
    """Build the documentation site."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")
