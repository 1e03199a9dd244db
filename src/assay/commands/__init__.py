"""Command groups of the `assay` CLI beyond the core (serve, keys, library): each module has a
``register(app)`` that adds its commands to the main Typer app."""
