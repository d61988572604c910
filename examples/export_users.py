"""Export users to CSV and JSON Lines, with sensitive values masked.

Runs on $MONGODB_URI when set, else on an embedded SecantusDB server started for the run:

    python examples/export_users.py [OUT_DIR]

The files are written to OUT_DIR (default: the current directory). The same export from the
command line is `mdocument export myapp.models:User --format csv --out users.csv`.
"""

import asyncio
import sys
from pathlib import Path

from pymongo import AsyncMongoClient

from mdocument import Document, Field, export, init
from mdocument.embedded import server_uri


class User(Document):
    name: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)
    karma: int = 0

    class Meta:
        collection = "users"


async def main(uri: str, database: str = "export_users", out_dir: Path = Path()) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri)
    await client.drop_database(database)
    await init(client[database], models=[User])
    await User.insert_many(
        [
            User(name="Ada", email="ada@example.com", karma=12),
            User(name="Grace", email="grace@example.com", karma=30),
            User(name="Alan", email="alan@example.com", karma=3),
        ]
    )

    csv_path = out_dir / "users.csv"
    count = await export(User, {"karma": {"$gt": 10}}, fmt="csv", out=csv_path, sort="name")
    print(f"{count} users written to {csv_path.name}:")
    print(csv_path.read_text(encoding="utf-8"), end="")

    jsonl_path = out_dir / "users.jsonl"
    count = await export(User, out=jsonl_path, fields=["name", "email"], sort="name")
    print(f"{count} users written to {jsonl_path.name}:")
    print(jsonl_path.read_text(encoding="utf-8"), end="")

    await client.drop_database(database)
    await client.close()


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path()
    with server_uri() as uri:
        asyncio.run(main(uri, out_dir=out))
