"""mdocument on a Motor database: the same models and calls as ``mdocument_odm``."""

from __future__ import annotations

from contenders.mdocument_odm import MDocumentMotor

CONTENDER = MDocumentMotor
