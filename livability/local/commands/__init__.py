"""CLI subcommands in modules of their own (found by `livability.local.cli.command_modules`)."""
