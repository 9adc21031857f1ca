"""The guard of tuning/'s replacements of Rasa internals (docs/rasa-internals.md): the versions and the
sources they were checked against, the install-time check, and CS_RASA_UNPATCHED=1 (Rasa's own code)."""

from __future__ import annotations

import importlib
import logging
import re
from importlib import metadata
from pathlib import Path
from typing import Dict, List

import pytest

import channels.reliable  # noqa: F401 - the install sites: every replacement is tried when they load
import tracker_stores.cached_sql  # noqa: F401
from tests.bot import RunningBot, joined, new_sender
from tests.conftest import ROOT
from tuning import CHECKED_SOURCES, CHECKED_VERSIONS, patching

MAP = ROOT / "docs" / "rasa-internals.md"
UPGRADE = 're-check the replacements as docs/rasa-internals.md says ("Upgrading Rasa")'
TUNING_MODULES = sorted(
    path.stem for path in (ROOT / "tuning").glob("*.py") if path.stem not in ("__init__", "patching")
)


def installable() -> List[str]:
    """The modules of tuning/ with an `install()` (all but skops_import, installed by its import)."""
    return [name for name in TUNING_MODULES if hasattr(importlib.import_module(f"tuning.{name}"), "install")]


# ------------------------------------------------------------------ the versions and the sources


def test_the_installed_packages_are_the_versions_the_tuning_was_checked_against() -> None:
    pinned = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements.lock").read_text("utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    differ = []
    for package, checked in CHECKED_VERSIONS.items():
        installed = metadata.version(package)
        if installed != checked or pinned.get(package) != checked:
            lock = pinned.get(package)
            differ.append(f"{package}: installed {installed}, requirements.lock {lock}, checked {checked}")
    assert not differ, (
        f"tuning/ was checked against other versions ({'; '.join(differ)}): {UPGRADE}, "
        "then update CHECKED_VERSIONS in tuning/__init__.py"
    )


def test_the_rasa_code_replaced_is_the_code_checked() -> None:
    found = patching.current_sources()
    differ = [key for key, fingerprint in found.items() if fingerprint != CHECKED_SOURCES[key]]
    assert not differ, (
        f"not the code tuning/ was checked against: {', '.join(differ)}. Those replacements are left out "
        f"(Rasa's code runs): {UPGRADE}; `python -m tuning.patching` prints the new fingerprints"
    )


def test_every_replacement_is_tried_by_the_servers_checked_and_mapped() -> None:
    """Each module of tuning/ is installed by the channels or the tracker store; what it replaces and
    relies on has a checked fingerprint; the map names every replaced function and the test of each."""
    assert sorted(patching.TRIED) == TUNING_MODULES, "a module of tuning/ that no install site installs"
    if not patching.unpatched():
        assert all(patching.INSTALLED.values()), patching.INSTALLED
    checked = {key for keys in [*patching.CHECKS.values(), *patching.TRIED.values()] for key in keys}
    assert checked == set(CHECKED_SOURCES), "CHECKED_SOURCES (tuning/__init__.py) lists what is checked"

    text = MAP.read_text("utf-8")
    for name, keys in patching.TRIED.items():
        assert f"tuning/{name}.py" in text, f"{MAP.name} lacks tuning/{name}.py"
        for key in keys:
            module, _, attribute = key.partition(":")
            assert f"`{attribute}`" in text and module in text, f"{MAP.name} lacks {key}"
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text("utf-8"), re.MULTILINE))
    named = set(re.findall(r"`(test_\w+)`", text))
    assert named and named <= defined, f"{MAP.name} names tests that do not exist: {named - defined}"


def test_replacements_go_through_the_check() -> None:
    """No module of tuning/ sets an attribute of what it imports but through `patching.install`."""
    import ast

    for name in TUNING_MODULES:
        path = ROOT / "tuning" / f"{name}.py"
        tree = ast.parse(path.read_text("utf-8"))
        imported = {
            (alias.asname or alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                targets = [ast.Attribute(value=node.args[0], attr="?")]
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                assert not (
                    isinstance(target, ast.Attribute) and getattr(root, "id", None) in imported
                ), f"tuning/{name}.py:{node.lineno} replaces an attribute directly: use patching.install()"


# ------------------------------------------------------------------ the check at install time


@pytest.fixture
def fresh_records(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Dict:
    """The patching's records as if nothing had been installed yet (restored afterwards); the
    originals seen so far are returned. Warnings of `tuning` are captured."""
    originals = dict(patching.ORIGINALS)
    monkeypatch.setattr(patching, "ORIGINALS", {})
    monkeypatch.setattr(patching, "INSTALLED", dict(patching.INSTALLED))
    monkeypatch.setattr(patching, "_told", set())
    monkeypatch.delenv(patching.UNPATCHED_VARIABLE, raising=False)
    caplog.set_level(logging.WARNING, logger="tuning")
    return originals


def put_back_rasas(monkeypatch: pytest.MonkeyPatch, original: patching.Original) -> None:
    """Rasa's attribute in place (tuning's again when the test ends)."""
    if original.own:
        monkeypatch.setattr(original.owner, original.name, original.raw)
    elif original.name in vars(original.owner):
        monkeypatch.delattr(original.owner, original.name)


def test_a_replaced_function_that_changed_stays_rasas_with_a_warning(
    monkeypatch, fresh_records, caplog
) -> None:
    from rasa.shared.core.domain import Domain

    from tuning import startup

    def is_empty(self) -> bool:  # "the next Rasa's" Domain.is_empty
        return not self.intents

    monkeypatch.setattr(Domain, "is_empty", is_empty)
    assert startup.install() is None and Domain.is_empty is is_empty
    assert patching.INSTALLED["startup"] is False
    (warning,) = warnings_of_tuning(caplog)
    assert "tuning/startup.py not installed, Rasa's own code runs" in warning
    assert "rasa.shared.core.domain:Domain.is_empty: source changed" in warning
    assert f"rasa {metadata.version('rasa')} (checked {CHECKED_VERSIONS['rasa']})" in warning
    assert "docs/rasa-internals.md" in warning

    monkeypatch.setattr(patching, "ORIGINALS", {})  # the checked one is installed again
    monkeypatch.setattr(Domain, "is_empty", fresh_records["rasa.shared.core.domain:Domain.is_empty"].raw)
    startup.install()
    assert Domain.is_empty is startup.domain_is_empty and patching.INSTALLED["startup"]


def test_a_function_a_replacement_relies_on_that_changed_leaves_all_of_it_out(
    monkeypatch, fresh_records, caplog
) -> None:
    """applied_events reproduces Rasa's walks: one of them changed, neither of its two replacements
    is installed."""
    from rasa.shared.core.trackers import DialogueStateTracker

    from tuning import applied_events

    replaced = patching.TRIED["applied_events"]
    for key in replaced:
        put_back_rasas(monkeypatch, fresh_records[key])
    monkeypatch.setattr(DialogueStateTracker, "_undo_till_previous", lambda self, kind, done: None)
    applied_events.install()
    for key in replaced:
        assert not patching.ours(patching.lookup(key)[2]), key
    (warning,) = warnings_of_tuning(caplog)
    assert "tuning/applied_events.py not installed" in warning
    assert "DialogueStateTracker._undo_till_previous: source changed" in warning


def warnings_of_tuning(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tuning" and r.levelno == logging.WARNING]


# ------------------------------------------------------------------ CS_RASA_UNPATCHED=1


def test_with_the_switch_every_install_leaves_rasas_code(monkeypatch, fresh_records, caplog) -> None:
    """With CS_RASA_UNPATCHED=1 every replaced function is Rasa's after every `install()`, and no
    garbage-collector freeze; without it, the same calls put tuning's back."""
    import gc

    from tuning import skops_import, startup

    rasas = {key: fresh_records[key] for name in installable() for key in patching.TRIED[name]}
    for original in rasas.values():
        put_back_rasas(monkeypatch, original)
    monkeypatch.setenv(patching.UNPATCHED_VARIABLE, "1")
    monkeypatch.setattr(startup, "_frozen", False)
    monkeypatch.setattr(gc, "freeze", lambda: pytest.fail("gc.freeze() with CS_RASA_UNPATCHED=1"))
    for name in installable():
        importlib.import_module(f"tuning.{name}").install()
    skops_import.import_skops()
    startup.freeze_loaded_objects()

    for key, original in rasas.items():
        owner, name, value = patching.lookup(key)
        assert patching._unwrapped(value) is patching._unwrapped(original.raw), key
        assert patching.fingerprint(owner, name, value) == CHECKED_SOURCES[key], key
    assert not any(patching.INSTALLED[name] for name in installable())
    told = " ".join(warnings_of_tuning(caplog))
    assert all(f"tuning/{name}.py not installed" in told for name in installable()), told

    monkeypatch.setenv(patching.UNPATCHED_VARIABLE, "0")
    for name in installable():
        importlib.import_module(f"tuning.{name}").install()
    assert all(patching.ours(patching.lookup(key)[2]) for key in rasas)


def test_the_switch_can_name_the_modules_left_out(monkeypatch, fresh_records) -> None:
    from tuning import applied_events, startup, tracker_copy

    modules = (startup, tracker_copy, applied_events)
    keys = [key for module in modules for key in patching.TRIED[module.__name__.split(".")[-1]]]
    for key in keys:
        put_back_rasas(monkeypatch, fresh_records[key])
    monkeypatch.setenv(patching.UNPATCHED_VARIABLE, "startup, tuning/tracker_copy.py")
    for module in modules:
        module.install()
    assert {key: patching.ours(patching.lookup(key)[2]) for key in keys} == {
        key: key in patching.TRIED["applied_events"] for key in keys
    }
    assert patching.unpatched() and patching.unpatched("startup") and not patching.unpatched("graph_runner")


@pytest.mark.servers
def test_a_conversation_on_rasas_own_code(tmp_path: Path) -> None:
    """The Rasa server started with CS_RASA_UNPATCHED=1 installs none of tuning/ (its log says so for
    every module) and still answers, through a ticket form, as the tuned one does."""
    bot = RunningBot(tmp_path)
    bot.rasa.env[patching.UNPATCHED_VARIABLE] = "1"
    bot.start("2026-11-25T10:00:00+08:00")
    try:
        sender = new_sender()
        assert "这是抖音智能客服的模拟器" in joined(bot.say(sender, "你好"))
        assert "400-992-2556" in joined(bot.say(sender, "抖音的客服电话是多少"))
        for message in ["帮我提交一个工单", "闪退", "电话回访"]:
            assert bot.say(sender, message)
        assert re.search(r"DY20261125-\d{6}", joined(bot.say(sender, "13800138000")))
    finally:
        bot.stop()
    log = (tmp_path / "rasa.log").read_text("utf-8", "replace")
    for name in TUNING_MODULES:
        assert f"tuning/{name}.py not installed, Rasa's own code runs" in log, name
    assert "Traceback" not in log
