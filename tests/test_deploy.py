"""The deploy files (deploy/): the image installs as the README says and stays healthy-checkable,
compose and Prometheus files parse and fit together, every metric the dashboard and the alert
rules use is one the bot exposes, and the systemd unit has its hardening and passes
`systemd-analyze verify`.

No container engine is needed: the Dockerfile is read, not built. `promtool` and
`systemd-analyze` are used where installed (the tests that need them skip otherwise).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_settings
from bot.models import IngestResult
from bot.services.metrics import Metrics, OutboxLine
from bot.services.poller import PollOutcome
from tests.test_metrics_e2e import free_port
from tests.test_quickstart import quickstart_commands
from tests.test_run_e2e import BotProcess

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
METRIC_NAME = re.compile(r"\b(?:releasebot|process)_[a-z0-9_]+\b")
CONFIG_IN_IMAGE = "/etc/releasebot/releasebot.toml"


# --- reading the files ---------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image's last stage (from its FROM on)."""
    instructions = dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def one(instructions: list[tuple[str, str]], keyword: str) -> str:
    found = [args for word, args in instructions if word == keyword]
    assert len(found) == 1, f"{keyword}: {found}"
    return found[0]


def load_yaml(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def unit_file() -> dict[str, dict[str, list[str]]]:
    """The systemd unit as {section: {key: [values, in order]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (DEPLOY / "releasebot.service").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml("alerts.yml")["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and template queries."""
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if isinstance(variable.get("query"), dict):
            exprs.append(variable["query"]["query"])
    return exprs


def exposed_metric_names() -> set[str]:
    """The sample names a real Metrics object serves on /metrics, with every one of its
    series given a value first (a labelled family shows no sample until then)."""
    metrics = Metrics("9.9.9", clock=lambda: datetime.now(UTC), tick=30.0, telegram=True)
    stored = IngestResult(new=2, updated=0, queued=2, flooded=0)
    metrics.polled([PollOutcome("nida", "ok", stored), PollOutcome("nih", "error")])
    metrics.delivered("news", "sent")
    metrics.telegram_answered(429, retry_after=5.0)
    with metrics.command("latest"):
        pass
    metrics.round_done(0.2)
    metrics.set_feeds([("nida", datetime.now(UTC), 0), ("nih", None, 3)])
    metrics.set_channels(["news"], ["news"], {"news": OutboxLine(2, 1000.0)})
    text = metrics.exposition().decode()
    return {
        sample.name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- the image -----------------------------------------------------------------------------


def test_the_image_installs_the_project_as_the_readme_quickstart_does() -> None:
    """The image's install is the README's: a venv, then pip install of the project's own
    files (the same target, '.'), not editable and without test/dev extras."""
    readme_install = quickstart_commands()["1"].split("&&")[1].strip()
    assert readme_install.startswith(".venv/bin/pip install -e ")
    readme_target = readme_install.removeprefix(".venv/bin/pip install -e ").strip()
    runs = [args for keyword, args in dockerfile() if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs == ["python -m venv /opt/releasebot && /opt/releasebot/bin/pip install ."]
    assert installs[0].rsplit(" ", 1)[1] == readme_target
    assert "[" not in installs[0]  # no extras


def test_the_image_copies_what_pip_install_needs() -> None:
    """The build copies pyproject.toml, the readme it names and the package folder it finds."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied = {
        source
        for keyword, args in dockerfile()
        if keyword == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    }
    assert {"pyproject.toml", project["project"]["readme"], "bot"} <= copied
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["bot*"]


def test_the_image_is_slim_python_311_and_runs_as_a_non_root_user() -> None:
    """A python:3.11-slim base (or newer), and the bot runs as uid 10001, not root."""
    base = re.search(r"ARG PYTHON_IMAGE=python:(\d+)\.(\d+)-slim\b", " ".join(
        f"{k} {a}" for k, a in dockerfile()
    ))
    assert base is not None
    assert (int(base.group(1)), int(base.group(2))) >= (3, 11)
    assert all(args == "${PYTHON_IMAGE}" or args.startswith("${PYTHON_IMAGE} ")
               for keyword, args in dockerfile() if keyword == "FROM")
    user = one(final_stage(), "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert "useradd --uid 10001" in one(final_stage(), "RUN")


def test_the_image_keeps_the_database_on_a_data_volume_and_takes_no_token() -> None:
    """/data is a volume owned by the bot's user, the shipped config's database is in it,
    and the token is not an ARG or ENV of any stage: it comes only at run time."""
    stage = final_stage()
    assert one(stage, "VOLUME") == '["/data"]'
    assert "chown releasebot:releasebot /data" in one(stage, "RUN")
    env = one(stage, "ENV")
    assert f"RELEASEBOT_CONFIG={CONFIG_IN_IMAGE}" in env
    assert f"deploy/releasebot.toml {CONFIG_IN_IMAGE}" in [a for k, a in stage if k == "COPY"]
    settings = load_settings(DEPLOY / "releasebot.toml")
    assert settings.database_path == Path("/data/releasebot.db")
    for keyword, args in dockerfile():
        if keyword in ("ARG", "ENV"):
            assert "TOKEN" not in args, (keyword, args)
    shipped = (DEPLOY / "releasebot.toml").read_text(encoding="utf-8")
    assert not re.search(r"(?im)^\s*[a-z_]*token[a-z_]*\s*=", shipped)  # no token key


def test_the_image_stops_on_sigterm_and_runs_the_bot() -> None:
    """docker stop sends SIGTERM (the bot's clean stop), and the command is `releasebot run`."""
    stage = final_stage()
    assert one(stage, "STOPSIGNAL") == "SIGTERM"
    assert json.loads(one(stage, "CMD")) == ["releasebot", "run"]


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's command (exec form), after its options."""
    check = one(final_stage(), "HEALTHCHECK")
    return list(json.loads(check.split(" CMD ", 1)[1]))


def test_the_healthcheck_asks_healthz_on_the_port_the_config_serves() -> None:
    """The HEALTHCHECK runs python (no curl in a slim image) against /healthz on the port of
    the shipped config's [metrics] listen, which listens on every address of the container."""
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    settings = load_settings(DEPLOY / "releasebot.toml")
    assert settings.metrics.address == ("0.0.0.0", 9464)
    assert "urllib.request" in command[2]
    assert "'http://127.0.0.1:9464/healthz'" in command[2]
    assert one(final_stage(), "EXPOSE") == "9464"


@pytest.fixture
def bot_like_the_image(tmp_path: Path) -> Iterator[tuple[BotProcess, int]]:
    """`releasebot run --dry-run` on the shipped config, its database, port and feed made
    local (the demo feed): the process the image's HEALTHCHECK looks at."""
    port = free_port()
    feed = tmp_path / "feed.xml"
    shutil.copy(REPO / "config" / "demo-feed.xml", feed)
    text = (DEPLOY / "releasebot.toml").read_text(encoding="utf-8")
    text = text.replace('"/data/releasebot.db"', f'"{tmp_path / "releasebot.db"}"')
    text = text.replace('"0.0.0.0:9464"', f'"127.0.0.1:{port}"')
    text = re.sub(r'url = "https://[^"]+"', f'url = "{feed}"', text)
    config = tmp_path / "releasebot.toml"
    config.write_text(text, encoding="utf-8")
    bot = BotProcess(config, "--dry-run", token=None)
    try:
        yield bot, port
    finally:
        if bot.proc.poll() is None:
            bot.terminate()


def run_healthcheck(port: int) -> int:
    command = healthcheck_command()
    code = command[2].replace(":9464/", f":{port}/")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def test_the_healthcheck_passes_on_a_running_bot_and_fails_once_it_stopped(
    bot_like_the_image: tuple[BotProcess, int],
) -> None:
    """The HEALTHCHECK's own command exits 0 while the bot serves /healthz 200, and 1 once
    the bot has stopped (nothing answers)."""
    bot, port = bot_like_the_image
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                assert answer.status == 200
                break
        except (urllib.error.URLError, ConnectionError):
            assert bot.proc.poll() is None, bot.stderr
            assert time.monotonic() < deadline, "the bot never served /healthz"
            time.sleep(0.1)
    assert run_healthcheck(port) == 0
    assert bot.terminate() == 0
    assert run_healthcheck(port) == 1


# --- compose and Prometheus ------------------------------------------------------------------


def test_compose_runs_the_bot_with_its_volume_config_and_token_file() -> None:
    """compose.yaml parses; the bot service builds deploy/Dockerfile from the repository,
    keeps /data on a named volume, mounts the config read-only where the image reads it,
    and takes the token from an env file."""
    compose = load_yaml("compose.yaml")
    bot = compose["services"]["releasebot"]
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert "releasebot-data:/data" in bot["volumes"]
    assert f"./releasebot.toml:{CONFIG_IN_IMAGE}:ro" in bot["volumes"]
    assert "releasebot-data" in compose["volumes"]
    assert bot["env_file"] == "releasebot.env"
    assert "environment" not in bot  # the token is never written into the compose file
    assert bot["stop_signal"] == "SIGTERM"
    template = (DEPLOY / "releasebot.env.example").read_text(encoding="utf-8")
    assert "TELEGRAM_BOT_TOKEN=\n" in template
    assert "releasebot.env" in (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()


def test_compose_prometheus_is_optional_and_scrapes_the_bot_with_the_alert_rules() -> None:
    """Prometheus runs only with the `monitoring` profile, mounts prometheus.yml and
    alerts.yml where prometheus.yml names them, and scrapes the bot's service and port."""
    compose = load_yaml("compose.yaml")
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounts = {
        volume.split(":")[0]: volume.split(":")[1]
        for volume in prometheus["volumes"]
        if volume.startswith("./")
    }
    for source in mounts:
        assert (DEPLOY / source).is_file(), source
    config = load_yaml("prometheus.yml")
    assert mounts["./prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert config["rule_files"] == [mounts["./alerts.yml"]]
    [job] = config["scrape_configs"]
    port = load_settings(DEPLOY / "releasebot.toml").metrics.address[1]  # type: ignore[index]
    assert job["static_configs"] == [{"targets": [f"releasebot:{port}"]}]
    assert job["job_name"] == "releasebot"


# --- metrics in the dashboard and the alert rules ---------------------------------------------


def test_every_metric_the_dashboard_and_alerts_use_is_one_the_bot_exposes() -> None:
    """No panel or alert waits for a series that never comes: each releasebot_* and
    process_* name is a sample name of a real Metrics object's /metrics text."""
    exposed = exposed_metric_names()
    used = {
        name
        for expr in [*dashboard_exprs(), *(rule["expr"] for rule in alert_rules())]
        for name in METRIC_NAME.findall(expr)
    }
    assert used, "no metric names found"
    assert used - exposed == set()


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    """Panels for polls by result, new releases, failing feeds, outbox pending and oldest
    age, deliveries by result, 429s, command latency p95, poll-round duration and RSS."""
    exprs = "\n".join(dashboard_exprs())
    for wanted in (
        "sum by (result) (rate(releasebot_polls_total",
        "releasebot_new_releases_total",
        "releasebot_feed_consecutive_failures",
        "releasebot_outbox_pending",
        "releasebot_outbox_oldest_pending_age_seconds",
        "sum by (result) (rate(releasebot_deliveries_total",
        "releasebot_telegram_429_total",
        "histogram_quantile(0.95, sum by (le, command) "
        "(rate(releasebot_command_duration_seconds_bucket",
        "releasebot_poll_round_duration_seconds_bucket",
        "process_resident_memory_bytes",
    ):
        assert wanted in exprs, wanted


def test_the_alert_rules_cover_failing_feeds_stale_outbox_paused_channel_down_bot() -> None:
    """alerts.yml parses and has the issue's alerts, each with a severity and a summary."""
    rules = {rule["alert"]: rule for rule in alert_rules()}
    expr = {name: " ".join(rule["expr"].split()) for name, rule in rules.items()}
    assert "time() - releasebot_feed_last_success_timestamp_seconds > 3600" in expr[
        "ReleasebotFeedFailing"
    ]
    assert "unless releasebot_feed_last_success_timestamp_seconds" in expr[
        "ReleasebotFeedNeverSucceeded"
    ]
    assert expr["ReleasebotOutboxStale"].startswith(
        "releasebot_outbox_oldest_pending_age_seconds > 900"
    )
    assert expr["ReleasebotChannelPaused"] == "releasebot_channel_paused == 1"
    assert expr["ReleasebotDown"] == 'up{job="releasebot"} == 0'
    for rule in rules.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_accepts_the_prometheus_config_and_the_alert_rules(tmp_path: Path) -> None:
    """`promtool check config` on prometheus.yml (its rule file where compose mounts it)."""
    shutil.copy(DEPLOY / "alerts.yml", tmp_path / "alerts.yml")
    text = (DEPLOY / "prometheus.yml").read_text(encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(
        text.replace("/etc/prometheus/alerts.yml", "alerts.yml"), encoding="utf-8"
    )
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


@needs_promtool
def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    """Each panel's query, with Grafana's variables filled in, parses (as a recording rule
    `promtool check rules` reads)."""
    rules = [
        {"record": f"dashboard:panel_{i}", "expr": expr.replace("$__rate_interval", "5m")
         .replace("$job", "releasebot").replace("$instance", ".*")}
        for i, expr in enumerate(dashboard_exprs())
        if not expr.startswith("label_values(")  # a Grafana function, not PromQL
    ]
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8"
    )
    checked = promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_the_alerts_fire_when_they_should_and_not_before() -> None:
    """`promtool test rules deploy/alerts_test.yml` (made-up series): a feed failing for an
    hour fires after the hour, a feed that never answered fires, an outbox over 15 minutes
    fires (not for a paused channel, which fires its own alert), a bot that cannot be
    scraped or has stopped its rounds fires; the healthy feed and early evaluations do not."""
    tested = promtool("test", "rules", "alerts_test.yml", cwd=DEPLOY)
    assert tested.returncode == 0, tested.stdout + tested.stderr


# --- systemd ---------------------------------------------------------------------------------


def test_the_systemd_unit_has_the_required_keys_and_hardening() -> None:
    """DynamicUser, StateDirectory, ProtectSystem=strict, Restart=on-failure, reload by
    SIGHUP, the token from an EnvironmentFile, the config path, and the hardening set."""
    unit = unit_file()
    service = {key: values[-1] for key, values in unit["Service"].items()}
    expected = {
        "DynamicUser": "yes",
        "StateDirectory": "releasebot",
        "ProtectSystem": "strict",
        "Restart": "on-failure",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "EnvironmentFile": "/etc/releasebot/releasebot.env",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "KillSignal": "SIGTERM",
    }
    assert {key: service.get(key) for key in expected} == expected
    assert shlex.split(service["ExecStart"]) == [
        "/opt/releasebot/bin/releasebot", "--config", CONFIG_IN_IMAGE, "run"
    ]
    assert "TELEGRAM_BOT_TOKEN" not in "".join(service.values())
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    # The database must be inside the state directory, the one writable place.
    assert 'database = "/var/lib/releasebot/releasebot.db"' in (
        DEPLOY / "releasebot.service"
    ).read_text(encoding="utf-8")


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, with ExecStart pointing at this environment's
    releasebot (verify wants an existing binary): no complaint."""
    analyze = shutil.which("systemd-analyze")
    releasebot = shutil.which("releasebot") or str(Path(sys.executable).parent / "releasebot")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    if not Path(releasebot).is_file():
        pytest.skip("no releasebot script in this environment")
    text = (DEPLOY / "releasebot.service").read_text(encoding="utf-8")
    unit = tmp_path / "releasebot.service"
    unit.write_text(
        text.replace("ExecStart=/opt/releasebot/bin/releasebot", f"ExecStart={releasebot}"),
        encoding="utf-8",
    )
    verified = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    output = verified.stdout + verified.stderr
    if verified.returncode != 0 and "Failed to" in output and "releasebot.service" not in output:
        pytest.skip(f"systemd-analyze cannot run here: {output.strip()}")
    assert verified.returncode == 0, output
    assert "releasebot.service" not in output, output
