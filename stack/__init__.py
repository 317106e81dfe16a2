"""The stack: command line, local dev stack, demo data and schedules; uses every layer, none uses it."""
