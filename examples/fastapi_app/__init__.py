"""A small blog API on FastAPI and mdocument: users with sensitive fields, and their posts.

Run it with ``python -m examples.fastapi_app`` (needs ``uvicorn``), or see ``app.py``.
"""
