"""CLI subcommands in modules of their own (see `livability.local.cli.COMMAND_MODULES`)."""
