"""Serialise `ast.parse` on Python 3.11, where two threads parsing at once can fail.

CPython 3.11 (before 3.11.9, gh-106905) tracks the AST constructor's recursion depth in interpreter-global state:
a garbage collection inside one thread's parse that switches to another thread's parse corrupts it, and the first
raises `SystemError: AST constructor recursion depth mismatch`. dbt renders Jinja on its worker threads and Jinja's
native types call `ast.literal_eval` (which calls `ast.parse`), so a build with two dbt threads failed at random
(CI saw it in a unit-test run). A re-entrant lock around `ast.parse` removes the race; parsing is a tiny part of
dbt's work, so it costs nothing measurable.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading

_LOCK = threading.RLock()  # re-entrant: a finalizer run by the collector inside a parse may parse again


def install() -> None:
    """Wrap `ast.parse` once (idempotent); a no-op on interpreters without the race."""
    if sys.version_info >= (3, 12) or getattr(ast.parse, "_dunning_serialised", False):
        return
    original = ast.parse

    @functools.wraps(original)
    def parse(*args, **kwargs):
        with _LOCK:
            return original(*args, **kwargs)

    parse._dunning_serialised = True
    ast.parse = parse
