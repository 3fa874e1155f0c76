"""The deployment files parse and name commands flagbot has (they are run by Toolforge or
systemd, never by the tests)."""

import configparser
import shlex

import yaml

from flagbot.cli import build_parser
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def flagbot_args(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0].endswith("/flagbot"), command
    return words[1:]


def test_toolforge_jobs_run_real_flagbot_commands():
    jobs = yaml.safe_load((DEPLOY / "toolforge-jobs.yaml").read_text())
    assert {job["name"] for job in jobs} == {"flagbot", "flagbot-health"}
    for job in jobs:
        args = build_parser().parse_args(flagbot_args(job["command"]))
        assert callable(args.func) and args.config == "flagbot.yaml"
    assert next(j for j in jobs if j["name"] == "flagbot")["continuous"] is True


def test_systemd_units_start_flagbot_and_its_review_queue():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "flagbot.service")
    args = build_parser().parse_args(flagbot_args(unit["Service"]["ExecStart"]))
    assert args.func.__name__ == "cmd_run" and unit["Service"]["UMask"] == "0077"
    web = configparser.ConfigParser(strict=False, interpolation=None)
    web.read(DEPLOY / "flagbot-web.service")
    assert web["Service"]["ExecStart"].endswith("flagbot.web.wsgi:app")
    assert "\napp = " in (ROOT / "flagbot" / "web" / "wsgi.py").read_text()  # what it names
