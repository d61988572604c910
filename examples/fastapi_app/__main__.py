"""``python -m examples.fastapi_app``: serve the blog on http://127.0.0.1:8000 (docs at /docs).

The database is ``$MONGODB_URI`` when set, else an embedded SecantusDB server started for the
run (``pip install "mdocument[fastapi,embedded]" uvicorn``).
"""

from __future__ import annotations

import os
import sys

from mdocument.embedded import server_uri

from .app import create_app


def main() -> None:
    try:
        import uvicorn
    except ImportError:
        sys.exit("this example is served by uvicorn: pip install uvicorn")
    port = int(os.environ.get("PORT", "8000"))
    with server_uri() as uri:
        app = create_app(uri=uri, db=os.environ.get("MONGODB_DB", "fastapi_app"))
        uvicorn.run(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
