"""What the host says: grounded sales scripts and the customer-service desk.

`make_writer(config)` builds one writer per room. Every backend's lines pass the grounding
checker; remote backends fall back to the embedded template writer.
"""

from scripts_gen.base import Answer, AnswerContext, Line, ScriptWriter, SegmentContext
from scripts_gen.factory import make_writer

__all__ = ["Answer", "AnswerContext", "Line", "ScriptWriter", "SegmentContext", "make_writer"]
