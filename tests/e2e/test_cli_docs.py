"""docs/cli.md documents every ``orgnode`` command, and documents nothing that does not exist.

When you add a command (``jobs``, ``candidates``, ``referrals``, ``discover``, ...) or an option,
add a ``### orgnode <command> <subcommand>`` section to docs/cli.md with the options table and an
example, the way the existing sections do; these tests name whatever is missing.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from node.cli import main as cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
HEADING = re.compile(r"^### orgnode (?P<command>[a-z][a-z0-9 -]*)$", re.M)


def _parser() -> argparse.ArgumentParser:
    return cli.build_parser()  # also fills cli.COMMANDS


def _commands() -> list[str]:
    _parser()
    return sorted(cli.COMMANDS)


def _sections() -> dict[str, str]:
    """Documented command -> the text of its section (up to the next heading of level 2 or 3)."""
    text = DOC.read_text()
    sections: dict[str, str] = {}
    for match in HEADING.finditer(text):
        following = re.search(r"^#{2,3} ", text[match.end() :], re.M)
        body = text[match.end() : match.end() + following.start()] if following else text[match.end() :]
        command = match.group("command").strip()
        assert command not in sections, f"docs/cli.md documents `orgnode {command}` twice"
        sections[command] = body
    return sections


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for word in command.split():
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        assert actions, f"`orgnode {command}`: no subcommands where {word!r} is expected"
        parser = actions[0].choices[word]
    return parser


def test_commands_are_registered() -> None:
    commands = _commands()
    assert {"init", "run", "status", "log", "demo", "invite", "trust accept", "sync"} <= set(commands)


def test_every_command_is_documented() -> None:
    documented = set(_sections())
    missing = [c for c in _commands() if c not in documented]
    assert not missing, (
        "docs/cli.md has no section for: "
        + ", ".join(f"`orgnode {c}`" for c in missing)
        + " — add a `### orgnode <command>` heading with its options and an example"
    )


def test_every_documented_command_exists() -> None:
    commands = set(_commands())
    unknown = [c for c in _sections() if c not in commands]
    assert not unknown, f"docs/cli.md documents commands that do not exist: {unknown}"


@pytest.mark.parametrize("command", _commands())
def test_section_lists_options_and_an_example(command: str) -> None:
    section = _sections().get(command)
    if section is None:
        pytest.skip("reported by test_every_command_is_documented")
    parser = _subparser(_parser(), command)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or "--home" in action.option_strings:
            continue  # --help is everywhere, --home is documented once under "Conventions"
        names = [o for o in action.option_strings if o.startswith("--")] or action.option_strings or [action.dest]
        assert any(f"`{n}" in section for n in names), f"`orgnode {command}`: docs/cli.md does not describe {names[0]}"
    examples = re.findall(r"^Example:\n\n```\n(.+?)\n```", section, re.M | re.S)
    assert examples, f"`orgnode {command}`: docs/cli.md section has no example"
    assert re.match(rf"orgnode (--home \S+ )?{re.escape(command)}(\s|$)", examples[0]), examples[0]
