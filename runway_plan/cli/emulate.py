"""``emulate``: serve the local Runway API emulator on a loopback port until interrupted."""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from runway_plan.cli.app import (
    EXIT_OK,
    catalog_option,
    emulator_or_fail,
    load_catalog_or_fail,
    main,
)

if TYPE_CHECKING:
    from runway_plan.catalog import Catalog
    from runway_plan.emulator import PriceSheet


def _load_faults(path: Path, seed: int) -> object:
    """The fault plan in ``path``; ``seed`` seeds its random faults unless it has a seed."""
    from runway_plan.emulator import FaultPlan

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a fault plan is a mapping: {seed: N, rules: [...]}")
        return FaultPlan.from_dict({"seed": seed, **data})
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--faults") from exc


def _load_prices(path: Path, catalog: Catalog) -> PriceSheet:
    from runway_plan.emulator.pricing import PriceSheetError, load_price_sheet

    try:
        return load_price_sheet(path, catalog)
    except PriceSheetError as exc:
        raise click.BadParameter(str(exc), param_hint="--prices") from exc


@main.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--tier",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Usage tier whose concurrency and daily limits apply.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Divide every task latency by this (1000: minutes to ms).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for random faults (when the fault plan has none). Ids are always random.",
)
@click.option(
    "--credits",
    "credit_balance",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Starting credit balance.",
)
@click.option("--api-key", help="The key clients must send (default: a new random key).")
@click.option(
    "--cadence",
    type=click.FloatRange(min=0, min_open=True),
    help="Show status changes only every N emulated seconds (the API: about 5).",
)
@click.option(
    "--faults",
    "faults_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A fault plan (YAML or JSON: {seed: N, rules: [...]}).",
)
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A price sheet (YAML: models: entries as in the catalog's prices.yaml, such as the "
    "runway-prices.yaml `prices learn` writes) merged over the catalog's prices. A model "
    "with no price cannot be run.",
)
@click.option("--log-requests", is_flag=True, help="Log every request (uvicorn access log).")
@catalog_option
def emulate(
    port: int,
    tier: int,
    speed: float,
    seed: int,
    credit_balance: int,
    api_key: str | None,
    cadence: float | None,
    faults_path: Path | None,
    prices_path: Path | None,
    log_requests: bool,
    catalog_path: Path | None,
) -> None:
    """Serve a local emulator of the Runway API (no key or network needed) until Ctrl-C.

    Point the official SDKs or `runway-plan run` at it with the printed environment.
    Test controls live under /_emulator (ledger, faults, clock, state, prices).
    """
    started = time.perf_counter()
    emulator_or_fail("emulate", serve=True)
    from runway_plan.emulator import Emulator, EmulatorConfig, bind_loopback, create_app, serve
    from runway_plan.emulator.pricing import warm_up
    from runway_plan.emulator.video import encoder

    catalog = load_catalog_or_fail(catalog_path)
    prices = _load_prices(prices_path, catalog) if prices_path is not None else None
    faults = _load_faults(faults_path, seed) if faults_path is not None else None
    config = EmulatorConfig(
        api_key=api_key,
        tier=tier,
        credits=credit_balance,
        speed=speed,
        seed=seed,
        cadence=cadence,
    )
    try:
        sock = bind_loopback("127.0.0.1", port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    emulator = Emulator(config, catalog=catalog, prices=prices, faults=faults)  # type: ignore[arg-type]

    def ready(base_url: str) -> None:
        elapsed = time.perf_counter() - started
        click.echo(
            f"Runway API emulator on {base_url} (tier {tier}, speed {speed:g}x, "
            f"{credit_balance:,} credits, catalog {catalog.version}; ready in {elapsed:.2f}s)",
            err=True,
        )
        click.echo(f"prices: {emulator.prices.origin}", err=True)
        click.echo(f"export RUNWAYML_BASE_URL={shlex.quote(base_url)}")
        click.echo(f"export RUNWAYML_API_SECRET={shlex.quote(emulator.api_key)}")
        click.echo("Press Ctrl-C to stop.", err=True)
        sys.stdout.flush()
        threading.Thread(target=prepare, name="warm-up", daemon=True).start()

    def prepare() -> None:
        """Import the planner and the video encoder off the start-up path; say when videos
        will be placeholders."""
        warm_up()
        if encoder() is None:
            click.echo(
                "note: video outputs are placeholder MP4s (a duration and a size, no frames); "
                "install PyAV for real H.264 video: pip install 'runway-plan[emulator-media]'",
                err=True,
            )

    try:
        serve(
            create_app(emulator),
            sock,
            on_ready=ready,
            access_log=log_requests,
            log_level="info" if log_requests else "warning",
        )
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        emulator.close()
    click.echo("emulator stopped", err=True)
    sys.exit(EXIT_OK)
