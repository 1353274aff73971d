"""Public checks, one module per question (``q1a``, ``q2a``, ...). Hidden cases live in the
autograder only and are never part of this package."""
