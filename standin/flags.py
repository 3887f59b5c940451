"""MyTSDB's command line, exactly: five flags, each as two arguments; anything else is refused.

Why exact: the harness starts MyTSDB (and this stand-in) with the same argv. A double that
tolerated ``--flag=value``, abbreviations or extra flags would hide a harness bug that MyTSDB
answers with exit 1 (../shared/mytsdb-contract.md, "Processes and ports").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from standin.errors import FlagError

LOG_LEVELS = ("debug", "info", "warn", "error", "off")
_TYPES: dict[str, type] = {"--http-port": int, "--arrow-port": int, "--address": str, "--data-dir": str,
                           "--log-level": str}


@dataclass(frozen=True)
class Flags:
    """Parsed flags with MyTSDB's defaults."""

    http_port: int = 9090
    arrow_port: int = 8815  # 0 = Flight off
    address: str = "0.0.0.0:4317"  # OTLP/gRPC listen address
    data_dir: str = "/tmp/tsdb"
    log_level: str = "info"

    def by_flag(self) -> dict[str, Any]:
        """The values keyed by flag name (``{"--http-port": 9090, ...}``)."""
        return {flag: getattr(self, flag[2:].replace("-", "_")) for flag in _TYPES}


def parse_flags(argv: list[str]) -> Flags:
    """MyTSDB's flag contract; FlagError naming the offending argument."""
    values: dict[str, Any] = Flags().by_flag()
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag not in _TYPES:
            raise FlagError(f"unknown flag {flag!r}")
        if i + 1 >= len(argv):
            raise FlagError(f"flag {flag} needs a value")
        raw = argv[i + 1]
        try:
            values[flag] = _TYPES[flag](raw)
        except ValueError:
            raise FlagError(f"bad value {raw!r} for {flag}") from None
        i += 2
    if values["--log-level"] not in LOG_LEVELS:
        raise FlagError(f"bad value {values['--log-level']!r} for --log-level")
    host, _, port = str(values["--address"]).rpartition(":")
    if not host or not port.isdigit():
        raise FlagError(f"bad value {values['--address']!r} for --address (HOST:PORT)")
    return Flags(**{flag[2:].replace("-", "_"): value for flag, value in values.items()})
