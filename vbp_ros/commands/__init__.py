"""One module per `vbp-ros` subcommand: NAME-less, just add_arguments(parser) and run(args)."""
