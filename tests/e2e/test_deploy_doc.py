"""docs/deploy.md cannot rot: every `orgnode …` command in its shell blocks is a real command of the current CLI.

Each command line in a ```sh block (heredoc bodies skipped, ``$(…)`` replaced by a word, ``sudo -u X``
and ``env VAR=…`` prefixes removed) is parsed by the real parser (``node.cli.main.build_parser``), so
an unknown subcommand, a missing argument or a bad choice fails; and every ``--option`` written must be
spelt exactly as one of the options of that command (argparse would accept an abbreviation).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from node.cli.main import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
SEPARATORS = {"&&", "||", ";", "|"}


def shell_blocks(text: str) -> list[str]:
    """The bodies of the ```sh / ```bash / ```console blocks."""
    return re.findall(r"^```(?:sh|bash|console|shell)\n(.*?)^```", text, flags=re.M | re.S)


def shell_lines(block: str) -> list[str]:
    """Logical lines (``\\`` continuations joined), without heredoc bodies."""
    lines: list[str] = []
    joined = block.replace("\\\n", " ")
    heredoc_end: str | None = None
    for line in joined.splitlines():
        if heredoc_end is not None:
            heredoc_end = None if line.strip() == heredoc_end else heredoc_end
            continue
        match = re.search(r"<<-?\s*'?\"?(\w+)", line)
        if match:
            heredoc_end = match.group(1)
        lines.append(line)
    return lines


def orgnode_commands(text: str) -> list[list[str]]:
    """The argument lists of every ``orgnode`` invocation in the shell blocks of ``text``."""
    found: list[list[str]] = []
    for block in shell_blocks(text):
        for line in shell_lines(block):
            words = shlex.split(re.sub(r"\$\([^)]*\)", "SUBST", line), comments=True)
            segment: list[str] = []
            for word in [*words, ";"]:
                if word not in SEPARATORS:
                    segment.append(word)
                    continue
                command = _strip_prefixes(segment)
                if command and Path(command[0]).name == "orgnode":
                    found.append(command[1:])
                segment = []
    return found


def _strip_prefixes(words: list[str]) -> list[str]:
    """``sudo [-u USER] [-H] [-i]`` and ``env VAR=value`` in front of a command."""
    words = list(words)
    while words and words[0] in ("sudo", "env", "runuser"):
        words.pop(0)
        while words and (words[0].startswith("-") or "=" in words[0]):
            flag = words.pop(0)
            if flag in ("-u", "--user", "-g") and words:
                words.pop(0)
            if flag == "--":  # runuser -u USER -- COMMAND
                break
    return words


def _chain(parser: argparse.ArgumentParser, args: list[str]) -> list[argparse.ArgumentParser]:
    """The parser and the subcommand parsers ``args`` walk into."""
    chain = [parser]
    for word in args:
        subs = [a for a in chain[-1]._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and word in subs[0].choices:
            chain.append(subs[0].choices[word])
    return chain


def check_command(args: list[str]) -> str | None:
    """Why ``orgnode ARGS`` is not a valid command line of the current CLI, or None."""
    parser = build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            if exc.code:
                return err.getvalue().strip().splitlines()[-1]
    options = {o for p in _chain(parser, args) for a in p._actions for o in a.option_strings}
    unknown = [w.split("=")[0] for w in args if w.startswith("--") and w.split("=")[0] not in options]
    return f"unknown option(s) {unknown}" if unknown else None


def test_every_orgnode_command_in_deploy_md_exists_with_its_options():
    commands = orgnode_commands(DOC.read_text())
    assert len(commands) >= 15, commands  # the extractor finds the doc's commands
    problems = [f"orgnode {' '.join(c)}: {why}" for c in commands if (why := check_command(c))]
    assert not problems, "docs/deploy.md has commands the CLI does not accept:\n" + "\n".join(problems)
    names = {_chain(build_parser(), c)[1].prog.split()[-1] for c in commands}  # `orgnode --home H backup F` -> backup
    for needed in ("init", "run", "invite", "trust", "backup", "restore", "restore-done", "set-url", "status", "sync"):
        assert needed in names, f"docs/deploy.md shows no `orgnode {needed}`"


@pytest.mark.parametrize("line, why", [
    ("orgnode bakup FILE", "invalid choice"),
    ("orgnode backup FILE --encrpyt", "unrecognized arguments"),
    ("orgnode backup FILE --enc", "unknown option"),  # an abbreviation argparse would accept
    ("orgnode init --name N --sector charity --listen 127.0.0.1:1", "invalid choice"),
    ("sudo -u orgnode /opt/orgnode/bin/orgnode trust accept", "required"),
    ("orgnode set-url https://x.example --listne 0.0.0.0:1", "unrecognized arguments"),
])
def test_the_checker_sees_a_wrong_command(line, why):
    [command] = orgnode_commands(f"```sh\n{line}\n```\n")
    problem = check_command(command)
    assert problem is not None and why in problem, problem


def test_the_extractor_skips_heredocs_and_sees_chained_and_prefixed_commands():
    text = ("```sh\ncat > f <<'EOF'\norgnode not-a-command\nEOF\nmkdir -p x && orgnode status --json\n"
            "sudo -u orgnode env A=1 /opt/orgnode/bin/orgnode --home /h backup /b/n-$(date +%F).bak\n```\n"
            "```toml\norgnode = 1\n```\n")
    assert orgnode_commands(text) == [["status", "--json"], ["--home", "/h", "backup", "/b/n-SUBST.bak"]]
    assert all(check_command(c) is None for c in orgnode_commands(text))


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def test_running_as_a_service_continues_from_sections_1_and_2():
    """acc10: the section re-created the user (useradd: it exists), re-ran init on the same home (refused),
    ran bare `orgnode` as root (not on root's PATH) and used another listen/url than the TLS sections."""
    text = DOC.read_text()
    service = _section(text, "Running as a service")
    lines = [line for block in shell_blocks(service) for line in shell_lines(block)]
    assert not [line for line in lines if re.search(r"\b(useradd|adduser)\b", line)], "the user exists since section 1"
    commands = []
    for line in lines:
        words = shlex.split(re.sub(r"\$\([^)]*\)", "SUBST", line), comments=True)
        command = _strip_prefixes(words)
        if command and Path(command[0]).name == "orgnode":
            commands.append(command)
    assert len(commands) >= 3, commands  # key passphrase, service install, key passphrase (changing it)
    for command in commands:
        assert command[0] == "/opt/orgnode/bin/orgnode", f"root's PATH has no orgnode: {command}"
        assert "init" not in command[1:], f"the home exists since section 2: {command}"
        if "--home" in command:
            assert command[command.index("--home") + 1] == "/var/lib/orgnode/node", command
    # The one URL and listen address of sections 2-3 (and no other) appear in the section's text.
    urls = set(re.findall(r"https://[a-z0-9.-]+\.example[a-z.]*(?::\d+)?", service))
    assert urls <= {"https://orgnode.example.org", "https://orgnode.example.org:8443"}, urls
    assert "0.0.0.0:8470" not in service and "--listen" not in service
    assert _strip_prefixes(shlex.split("runuser -u orgnode -- orgnode status")) == ["orgnode", "status"]  # the prefix is seen
