"""The terminal-free API: each command's work, taking a Runtime and returning values.

Nothing here prints, prompts or exits; the CLI renders what these return.
"""
