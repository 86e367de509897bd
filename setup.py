"""Build of the optional compiled book core (daemon/core/_book.c); everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and daemon.core.book runs on its
pure-Python core (daemon/core/book_core.py), the same behaviour, slower.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("daemon.core._book", ["daemon/core/_book.c"], optional=True,
                             depends=["daemon/core/_book_side.h", "daemon/core/_book_text.h"],
                             extra_compile_args=["-O2", "-std=gnu11"])])
