"""`basisd`: run | sim | check-config | backtest | config-reference."""
from __future__ import annotations

import argparse
import sys

from daemon import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="basisd", description="delta-neutral basis trading daemon")
    p.add_argument("--version", action="version", version=f"basisd {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon (embedded default config without --config)")
    run.add_argument("--config", help="TOML config file")
    run.add_argument("--socket", help="admin socket path (else $BASISD_SOCKET, else admin.socket)")
    run.add_argument("--fresh", action="store_true",
                     help="start the embedded exchange afresh instead of resuming the one saved "
                          "in the state dir")
    check = sub.add_parser("check-config", help="validate a config file; exit 2 on errors")
    check.add_argument("file")
    sim = sub.add_parser("sim", help="run the embedded exchange standalone")
    sim.add_argument("--config", help="sim TOML config file")
    sim.add_argument("--seed", type=int, default=None, help="random seed (default from config)")
    sim.add_argument("--state-dir", default=None,
                     help="persist the venues' accounts here and resume them on the next start")
    sim.add_argument("--fresh", action="store_true",
                     help="with --state-dir: start new venues (the saved ones are replaced)")
    ref = sub.add_parser("config-reference",
                         help="print the configuration reference (markdown) generated from the code")
    ref.add_argument("--write", metavar="FILE",
                     help="refresh the reference block in FILE (e.g. README.md) instead of printing")
    from daemon.opportunity.backtest_cli import add_arguments as add_backtest_arguments
    add_backtest_arguments(sub.add_parser(
        "backtest", help="run the pricing and the strategy over a real funding history CSV"))
    return p


def config_reference(write: str | None) -> int:
    from daemon.ops import config_reference as ref
    if write is None:
        sys.stdout.write(ref.render())
        return 0
    changed = ref.write(write)
    print(f"{write}: {'updated' if changed else 'already current'}")
    return 0


def check_config(path: str) -> int:
    """What `run` would refuse, and a config with no venues; credentials by name only."""
    from daemon.config import ConfigError, check_problems, load_config
    try:
        cfg = load_config(path)
        problems = check_problems(cfg)
        if problems:
            raise ConfigError(path, problems)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        return 2
    print(f"{path}: OK ({len(cfg.venues)} venue(s))")
    return 0


def run_sim_cli(config: str | None, seed: int | None, state_dir: str | None = None,
                fresh: bool = False) -> int:
    import uvloop

    import msgspec

    from connectors.sim import run_sim
    try:
        uvloop.run(run_sim(config, seed, state_dir=state_dir, fresh=fresh))
    except (OSError, ValueError, msgspec.ValidationError) as exc:  # tomllib errors are ValueErrors
        print(f"basisd sim: bad config {config}: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.file)
    if args.command == "run":
        from daemon.app import run_daemon
        return run_daemon(args.config, args.socket, fresh=args.fresh)
    if args.command == "config-reference":
        return config_reference(args.write)
    if args.command == "sim":
        return run_sim_cli(args.config, args.seed, args.state_dir, args.fresh)
    if args.command == "backtest":
        from daemon.opportunity.backtest_cli import main as backtest_main
        return backtest_main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
