"""pipelines.threadsafe_ast: two threads parsing Python literals under garbage-collection pressure (what dbt's two
worker threads do through Jinja's `ast.literal_eval`) never fail once the guard is installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Two threads literal_eval a nested literal while cyclic garbage with finalizers forces collections mid-parse.
RACE = textwrap.dedent("""
    import ast, gc, sys, threading
    if sys.argv[1] == "guarded":
        from pipelines import threadsafe_ast
        threadsafe_ast.install()
        threadsafe_ast.install()  # idempotent
    class Cycle:
        def __init__(self):
            self.me = self
        def __del__(self):
            sum(range(1000))
    source = "[" + ",".join("{'a': [1, 2, (3, 4)], 'b': None}" for _ in range(50)) + "]"
    expected = ast.literal_eval(source)
    errors = []
    def work():
        for _ in range(1500):
            junk = [Cycle() for _ in range(50)]
            del junk
            try:
                assert ast.literal_eval(source) == expected
            except SystemError as error:
                errors.append(str(error))
                return
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50)
    threads = [threading.Thread(target=work) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(errors[0] if errors else "ok")
""")


def _race(mode: str) -> str:
    return subprocess.run([sys.executable, "-c", RACE, mode], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the race exists on Python 3.11 only")
def test_concurrent_literal_parsing_never_fails_with_the_guard():
    if _race("bare") == "ok":
        pytest.skip("this interpreter does not show the race (CPython 3.11.9 and later fixed it)")
    assert _race("guarded") == "ok"
