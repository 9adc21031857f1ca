"""The README and docs/ name only what exists: every repository path in backticks, every `make` target,
every picture; the README stays short, and every page says at its top what it covers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Dict, List, Set

from tests.conftest import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 300

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
MAKE = re.compile(r"\bmake ([a-z][a-z0-9_-]*)")
PATH_TOKEN = re.compile(r"^[\w.*/-]+$")
EXTENSIONS = {
    "py", "yml", "yaml", "md", "json", "html", "js", "css", "txt", "ini", "toml", "cfg", "lock", "in",
    "sh", "conf", "png", "mako", "gz", "db",
}  # fmt: skip
# Made by `make install`, a run or a test, not part of a clone.
GENERATED = ("var/", "results/", "models/", ".venv/", "spacy_zh", "web/vendor/node_modules")
GENERATED_NAMES = {"goals.json"}  # make simulate's, beside its tracker store
# Written like paths, but not the repository's: Helm charts, a forged upload name, the file of the
# example topic in docs/adding-a-topic.md (`make topic NAME=offline_xr_demo` writes it).
NOT_PATHS = {"rasa/rasa", "rasa/rasa-action-server", "../../x.png", "data/nlu/offline_xr_demo.yml"}


def code_spans(text: str) -> List[str]:
    return [match.group(2) for match in CODE_SPAN.finditer(FENCE.sub("", text))]


def fences(text: str) -> List[str]:
    return [match.group(0) for match in FENCE.finditer(text)]


def is_path(token: str) -> bool:
    if not PATH_TOKEN.match(token) or token.startswith(("/", "-", ".")) and not token.startswith("../"):
        return False
    name = token.rstrip("/").rsplit("/", 1)[-1]
    return "/" in token or ("." in name and name.rsplit(".", 1)[-1] in EXTENSIONS)


def tracked_files() -> Set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return set(listed)


def exists(token: str, page: Path, names: Set[str]) -> bool:
    if token in NOT_PATHS or token in GENERATED_NAMES or token.startswith(GENERATED):
        return True
    if "/" not in token:  # a file named alone: anywhere in the repository
        return any(Path(name).match(token) for name in names)
    token = token.rstrip("/")
    for base in (ROOT, page.parent):
        if list(base.glob(token)) if "*" in token else (base / token).exists():
            return True
    return False


def missing_paths() -> Dict[str, List[str]]:
    names = {Path(name).name for name in tracked_files()}
    missing: Dict[str, List[str]] = {}
    for page in PAGES:
        for span in code_spans(page.read_text("utf-8")):
            for token in span.split():
                token = token.strip("()[],;:'\"")
                if is_path(token) and not exists(token, page, names):
                    missing.setdefault(str(page.relative_to(ROOT)), []).append(token)
    return missing


def makefile_targets() -> Set[str]:
    text = (ROOT / "Makefile").read_text("utf-8")
    return set(re.findall(r"^([a-z][a-z0-9_-]*):", text, re.M))


def test_every_path_the_docs_name_exists() -> None:
    assert missing_paths() == {}


def test_every_make_target_the_docs_name_exists() -> None:
    targets = makefile_targets()
    missing = {}
    for page in PAGES:
        text = page.read_text("utf-8")
        for code in code_spans(text) + fences(text):
            for target in MAKE.findall(code):
                if target not in targets:
                    missing.setdefault(str(page.relative_to(ROOT)), set()).add(target)
    assert missing == {}


def test_every_picture_the_docs_show_exists() -> None:
    missing = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in IMAGE.findall(page.read_text("utf-8"))
        if not target.startswith("http") and not (page.parent / target).is_file()
    ]
    assert missing == []


def test_the_readme_is_short() -> None:
    lines = README.read_text("utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES})"


def test_every_docs_page_says_what_it_covers() -> None:
    vague = [
        page.name
        for page in PAGES[1:]
        if "What this page covers:" not in "\n".join(page.read_text("utf-8").splitlines()[:4])
    ]
    assert vague == []


def test_the_checks_find_what_is_missing(tmp_path: Path) -> None:
    """The path and target checks are not vacuous."""
    names = {"README.md"}
    assert not exists("actions/answers.py", README, names)
    assert exists("core/answers.py", README, names)
    assert exists("data/nlu/aspect_*.yml", README, names)
    assert is_path("core/") and is_path("endpoints.yml") and is_path("../migrations/README.md")
    assert not is_path("http://localhost:8080/") and not is_path("/webhooks/agent_console")
    assert not is_path("www.douyin.com") and not is_path("agents.cli")
    assert MAKE.findall("make agent-add NAME=x && make run") == ["agent-add", "run"]
