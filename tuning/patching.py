"""How tuning/ puts its replacements in Rasa's place, and when it does not.

Every replacement of a Rasa function goes through `install()`, which puts all of one module's
replacements in place, or none of them:

- none when `CS_RASA_UNPATCHED=1`: Rasa's own code runs everywhere, so that a difference between
  this project and plain Rasa can be bisected (a warning per module says so); a list of module names
  (`CS_RASA_UNPATCHED=past_states,graph_runner`) leaves out those only;
- none when a function it replaces, or a function whose code it reproduces or relies on, is not the
  code it was checked against: the SHA-256 of its source differs from `tuning.CHECKED_SOURCES`. The
  warning names the function and docs/rasa-internals.md, which says what to re-check.

Otherwise the replacements are set exactly as before: the check costs a few milliseconds once, at the
server's start, and nothing per message. `python -m tuning.patching` prints each checked function's
installed fingerprint beside the checked one (the list to go through when upgrading Rasa).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import linecache
import logging
import os
import re
import sys
import textwrap
from importlib import metadata
from types import ModuleType
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

from tuning import CHECKED_SOURCES, CHECKED_VERSIONS

logger = logging.getLogger("tuning")

UNPATCHED_VARIABLE = "CS_RASA_UNPATCHED"
MAP = "docs/rasa-internals.md"


class Original(NamedTuple):
    """What an attribute was before tuning/ first replaced it."""

    owner: Any  # a class or a module
    name: str
    raw: Any  # as found in the class's (or its base's) __dict__: a staticmethod stays one
    own: bool  # set on `owner` itself (False: inherited from a base class)


# For each module of tuning/ that tried to install (switch on or off), the keys of what it replaces.
TRIED: Dict[str, Tuple[str, ...]] = {}
# ... and the keys of what it checks: those and the functions it reproduces or relies on.
CHECKS: Dict[str, Tuple[str, ...]] = {}
# Whether each of them is installed now.
INSTALLED: Dict[str, bool] = {}
# Rasa's attributes as found before their first replacement, by key ("module:Qualified.name").
ORIGINALS: Dict[str, Original] = {}

_told: set = set()
_fingerprints: Dict[Tuple[int, str, int], Tuple[Any, str]] = {}


def unpatched(patch: Optional[str] = None) -> bool:
    """Whether `CS_RASA_UNPATCHED` asks for Rasa's own code instead of tuning/<patch>.py: `1` for every
    module, or the names of some, separated by commas (`past_states,graph_runner`); unset, empty or
    `0` for none. Without `patch`: whether it asks that of any module."""
    value = os.environ.get(UNPATCHED_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes", "all") or patch is None:
        return True
    names = {re.sub(r"\.py$", "", name.strip()).split("/")[-1] for name in value.split(",")}
    return patch in names


def key_of(owner: Any, name: str) -> str:
    """`module:Qualified.name` of an attribute of a class or a module."""
    if isinstance(owner, ModuleType):
        return f"{owner.__name__}:{name}"
    return f"{owner.__module__}:{owner.__qualname__}.{name}"


def _raw(owner: Any, name: str) -> Tuple[Any, bool]:
    """The attribute as stored (through the class's bases), and whether `owner` holds it itself."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                return vars(klass)[name], klass is owner
        raise AttributeError(f"{owner.__qualname__} has no attribute {name!r}")
    return getattr(owner, name), True


def lookup(key: str) -> Tuple[Any, str, Any]:
    """The owner, name and stored value of `module:Qualified.name` (imports the module)."""
    module_name, _, path = key.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, name, _raw(owner, name)[0]


def _unwrapped(value: Any) -> Any:
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def ours(value: Any) -> bool:
    """Whether `value` is one of tuning/'s replacements."""
    value = _unwrapped(value)
    module = getattr(value, "__module__", None) or type(value).__module__
    return isinstance(module, str) and module.startswith("tuning.")


def fingerprint(owner: Any, name: str, value: Any) -> str:
    """SHA-256 (16 hex digits) of what a replacement depends on: a function's or a class's source; for
    a module bound to a name in another module (`copy` in Rasa's processor), the lines of that module
    that use the name, each with the two lines before it; for data (a JSON schema), its JSON."""
    value = _unwrapped(value)
    cache_key = (id(owner), name, id(value))
    cached = _fingerprints.get(cache_key)
    if cached is not None and cached[0] is value:
        return cached[1]
    if isinstance(value, ModuleType):
        uses, lines = re.compile(rf"\b{re.escape(name)}\."), inspect.getsource(owner).splitlines()
        at = [index for index, line in enumerate(lines) if uses.search(line)]
        text = "\n".join(  # each use with the two lines before it (the call it is an argument of)
            "\n".join(line.strip() for line in lines[max(0, index - 2) : index + 1]) for index in at
        )
    elif callable(value):  # a function or a class (a decorated function: the function's own source)
        text = textwrap.dedent(inspect.getsource(inspect.unwrap(value)))
    else:
        text = json.dumps(value, sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    _fingerprints[cache_key] = (value, digest)
    return digest


def _checked_value(key: str) -> Tuple[Any, str, Any]:
    """The owner, name and value to compare with the checked source: Rasa's, also where tuning/ has
    replaced it already."""
    if key in ORIGINALS:
        original = ORIGINALS[key]
        return original.owner, original.name, original.raw
    return lookup(key)


def differs(key: str) -> Optional[str]:
    """Why the code at `key` is not the code checked (None: it is)."""
    checked = CHECKED_SOURCES.get(key)
    if checked is None:
        return "no checked fingerprint in tuning/__init__.py"
    try:
        owner, name, value = _checked_value(key)
        if ours(value):
            return "replaced before its original was seen"
        found = fingerprint(owner, name, value)
    except (ImportError, AttributeError, OSError, TypeError) as error:
        return f"cannot be read ({error})"
    return None if found == checked else f"source changed ({found}, checked {checked})"


def package_versions(keys: Sequence[str]) -> str:
    """The installed and checked versions of the packages of `keys` (rasa 3.6.22, checked 3.6.21)."""
    parts = []
    for package in sorted({key.split(".", 1)[0].split(":", 1)[0].replace("_", "-") for key in keys}):
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        parts.append(f"{package} {installed} (checked {CHECKED_VERSIONS.get(package, '?')})")
    return ", ".join(parts)


def switched_off(patch: str, keys: Sequence[str]) -> bool:
    """Records that `patch` tries to replace `keys`; True (with a warning, once) when the switch is on."""
    TRIED[patch] = tuple(keys)
    if not unpatched(patch):
        return False
    INSTALLED[patch] = False
    if patch not in _told:
        _told.add(patch)
        logger.warning(
            "%s is set: tuning/%s.py not installed, Rasa's own code runs (%s)", UNPATCHED_VARIABLE, patch, MAP
        )
    return True


def install(patch: str, replacements: Sequence[Tuple[Any, str, Any]], relies_on: Sequence[str] = ()) -> bool:
    """Sets each `(owner, name, new)` of module `tuning/<patch>.py`, unless the switch is on or any of
    the replaced functions or of `relies_on` (keys of functions whose code the replacements reproduce or
    depend on) differs from the code checked: then nothing is set, and a warning says why."""
    keys = [key_of(owner, name) for owner, name, _new in replacements]
    missing = []
    for (owner, name, _new), key in zip(replacements, keys):
        try:
            raw, own = _raw(owner, name)
        except AttributeError:
            missing.append(key)
            continue
        if key not in ORIGINALS and not ours(raw):
            ORIGINALS[key] = Original(owner, name, raw, own)
    CHECKS[patch] = (*keys, *relies_on)
    if switched_off(patch, keys):
        return False
    cached = set(linecache.cache)
    problems = [f"{key}: missing" for key in missing]
    problems += [
        f"{key}: {why}" for key in [*keys, *relies_on] if key not in missing for why in [differs(key)] if why
    ]
    for filename in set(linecache.cache) - cached:  # the sources read for the check (1 MB in all)
        linecache.cache.pop(filename, None)
    if problems:
        INSTALLED[patch] = False
        if (patch, tuple(problems)) not in _told:
            _told.add((patch, tuple(problems)))
            logger.warning(
                "tuning/%s.py not installed, Rasa's own code runs. Not the code it was checked against: "
                "%s. Installed: %s. Re-check it as %s says, then update tuning/__init__.py.",
                patch, "; ".join(problems), package_versions([*keys, *relies_on]), MAP,
            )  # fmt: skip
        return False
    for owner, name, new in replacements:
        setattr(owner, name, new)
    INSTALLED[patch] = True
    return True


def current_sources() -> Dict[str, str]:
    """The installed code's fingerprint for every key of `CHECKED_SOURCES` (Rasa's, where replaced)."""
    found = {}
    for key in CHECKED_SOURCES:
        try:
            owner, name, value = _checked_value(key)
            found[key] = "replaced" if ours(value) else fingerprint(owner, name, value)
        except (ImportError, AttributeError, OSError, TypeError) as error:
            found[key] = f"unreadable: {error}"
    return found


def main() -> int:
    """Prints the checked and installed versions and fingerprints; exit status 1 if any differs."""
    changed = 0
    for package, checked in CHECKED_VERSIONS.items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        mark = "" if installed == checked else "   <- differs"
        changed += bool(mark)
        print(f"{package:14} checked {checked:12} installed {installed}{mark}")
    print()
    for key, found in current_sources().items():  # as lines of CHECKED_SOURCES
        line = f'    "{key}": "{found}",'
        notes = ["noqa: E501"] if len(line) > 110 else []
        if found != CHECKED_SOURCES[key]:
            changed += 1
            notes.append(f"differs: checked {CHECKED_SOURCES[key]}")
        print(line + (f"  # {'; '.join(notes)}" if notes else ""))
    if changed:
        print(f"\n{changed} differ: re-check each as {MAP} says before updating tuning/__init__.py.")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
