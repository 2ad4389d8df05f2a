"""The quality probe: checkable prompts, their checkers, batteries, answer comparison and runs."""
