"""skops (the intent classifier's file format) imported in a fraction of a second instead of ~5 s.

`import skops.io` lists the type names of numpy's and SciPy's ufuncs. A ufunc has no `__module__`,
so skops (`_utils.whichmodule`, copied from `pickle`) looks for each one in every loaded module; in
the Rasa server, with TensorFlow loaded, that is ~400 ufuncs x ~5,000 modules, and each module that
lacks the name raises an `AttributeError` whose message formats the module's repr: half of the
server's start-up. The same search without the formatted errors (`getattr` with a default, which also
catches only `AttributeError`) finds the same module, in the same order.

The package's `__init__` runs the search, so the package module is created, its `_utils` loaded and
mended, and only then is the package's `__init__` run. If anything of this fails, the partly
imported modules are removed and skops is imported as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any

from tuning import patching

logger = logging.getLogger(__name__)

_MISSING = object()
WHICHMODULE = "skops.io._utils:whichmodule"


def which_module(obj: Any, name: str) -> str:
    """skops's `whichmodule`: the module `obj` belongs to (`__main__` if none is found)."""
    module_name = getattr(obj, "__module__", None)
    if module_name is not None:
        return module_name
    if "." in name or name == "<locals>":
        return _SKOPS_WHICHMODULE(obj, name)  # dotted paths: skops's own walk
    for module_name, module in sys.modules.copy().items():
        if module_name in ("__main__", "__mp_main__") or module is None:
            continue
        if getattr(module, name, _MISSING) is obj:
            return module_name
    return "__main__"


_SKOPS_WHICHMODULE: Any = None


def import_skops() -> None:
    """Imports `skops.io` with `which_module` in place of its `whichmodule` (no-op if imported; with
    `CS_RASA_UNPATCHED` set, skops is left to Rasa's own import)."""
    global _SKOPS_WHICHMODULE
    if "skops.io" in sys.modules or patching.switched_off("skops_import", [WHICHMODULE]):
        return
    added = []
    try:
        spec = importlib.util.find_spec("skops.io")
        package = importlib.util.module_from_spec(spec)
        sys.modules["skops.io"] = package
        added.append("skops.io")
        before = set(sys.modules)
        utils = importlib.import_module("skops.io._utils")
        added += [name for name in sys.modules if name not in before]
        original = utils.whichmodule
        if not patching.install("skops_import", [(utils, "whichmodule", which_module)]):
            raise _NotInstalled  # (the warning is logged) the usual import, below
        _SKOPS_WHICHMODULE = original
        spec.loader.exec_module(package)
    except Exception as error:  # noqa: BLE001 - then skops is imported the usual, slower way
        if not isinstance(error, _NotInstalled):
            logger.warning("skops could not be imported quickly; importing it as usual", exc_info=True)
        for name in added:
            sys.modules.pop(name, None)
        importlib.import_module("skops.io")


class _NotInstalled(Exception):
    """`whichmodule` is not the code checked (tuning/patching.py)."""
