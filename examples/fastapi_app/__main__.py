"""``python -m examples.fastapi_app``: serve the blog on http://127.0.0.1:8000 (docs at /docs).

The database is ``$MONGODB_URI`` when set, else an embedded SecantusDB server started for the
run (``pip install -e ".[fastapi,embedded]" uvicorn`` in the clone).
"""

from __future__ import annotations

import os
import secrets
import sys

from mdocument import configure_page_tokens
from mdocument.embedded import server_uri
from mdocument.pagination import PAGE_TOKEN_KEYS_VARIABLE

from .app import create_app


def main() -> None:
    try:
        import uvicorn
    except ImportError:
        sys.exit("this example is served by uvicorn: pip install uvicorn")
    port = int(os.environ.get("PORT", "8000"))
    if PAGE_TOKEN_KEYS_VARIABLE not in os.environ:
        # The feed's page tokens are sealed with the application's keys. This demo is one
        # process serving one run, so a key of its own will do; a deployment sets
        # MDOCUMENT_PAGE_TOKEN_KEYS, the same for all its processes and restarts.
        configure_page_tokens([secrets.token_urlsafe(32)])
    with server_uri() as uri:
        app = create_app(uri=uri, db=os.environ.get("MONGODB_DB", "fastapi_app"))
        uvicorn.run(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
