"""CLI subcommands, one module each (see clavis.cli.COMMAND_MODULES)."""
