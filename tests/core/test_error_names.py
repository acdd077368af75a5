"""One name, one exception class: code that catches an error by name must get the one it means
(two ``SignatureError`` and two ``AlreadyDecided`` classes once lived in different apps)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import qianshu


def test_no_two_exception_classes_share_a_name() -> None:
    found: dict[str, set[str]] = defaultdict(set)
    for module_info in pkgutil.walk_packages(qianshu.__path__, "qianshu."):
        if ".migrations." in module_info.name or module_info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("qianshu."):
                found[name].add(f"{cls.__module__}.{cls.__qualname__}")
    shared = {name: sorted(places) for name, places in found.items() if len(places) > 1}
    assert shared == {}
