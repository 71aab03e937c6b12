"""The optional C counting loops (kcomplexity/_native.c); the rest of the build is in pyproject.toml.
Without a C compiler the install still succeeds and numpy computes the same numbers, slower."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("kcomplexity._native", ["kcomplexity/_native.c"], optional=True,
                             extra_compile_args=["-O3"])])
