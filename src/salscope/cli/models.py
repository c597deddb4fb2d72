"""``salscope models`` and ``salscope layers``: what a model spec can name, and the layers an encoder exposes.

Both go through :mod:`salscope.models.factory`, the one place that reads a
model spec, so what they list is what every other command accepts.
"""

from __future__ import annotations

import typer


def models_command() -> None:
    """List the registered saliency models (with their kind) and the backbones, and the spec forms."""
    from salscope.models.backbones import available_backbones  # noqa: PLC0415
    from salscope.models.factory import available_models, parse_spec  # noqa: PLC0415

    typer.echo("saliency models (predict, evaluate, popout):")
    for name in available_models():
        spec = parse_spec(name)
        typer.echo(f"  {name:<20} {spec.kind}{'' if spec.center_prior_switch else '  (no centre-prior switch)'}")
    typer.echo("  inter_observer       baseline  (evaluate only)")
    typer.echo("encoders (dissect, compare): builtin, " + ", ".join(available_backbones()))
    typer.echo("any command also takes: ckpt:PATH, FILE.py:FACTORY, LABEL=SPEC; evaluate: maps:DIR; "
               "encoders: timm:NAME (with timm installed)")


def layers_command(
    model: str = typer.Argument(..., help="Encoder spec: backbone name, builtin, ckpt:PATH, FILE.py:FACTORY or timm:NAME."),
    weights: str = typer.Option("none", "--weights", help="Weights for a backbone name (imagenet, a file, or none: random, enough to list layers)."),
    all_modules: bool = typer.Option(False, "--all", help="For a plain nn.Module: list every named sub-module, not only its default layers."),
) -> None:
    """Print the layers an encoder exposes (name, channels, stride): the names --layers takes."""
    from salscope.models.backbones.foreign import ModuleEncoder  # noqa: PLC0415
    from salscope.models.factory import encoder  # noqa: PLC0415

    enc = encoder(model, weights=None if weights.lower() == "none" else weights)
    if all_modules and isinstance(enc, ModuleEncoder):
        enc = ModuleEncoder(enc.module, name=enc.name, layers=enc._all_names())
    typer.echo(f"{'layer':<32} {'channels':>8} {'stride':>6}")
    for info in enc.feature_info:
        typer.echo(f"{info.name:<32} {info.channels:>8} {info.stride:>6}")


def register(app: typer.Typer) -> None:
    """Add ``models`` and ``layers`` to the ``salscope`` application."""
    app.command("models")(models_command)
    app.command("layers")(layers_command)
