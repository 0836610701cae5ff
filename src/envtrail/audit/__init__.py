"""The audit room: commit records (trailers), masked diffs, context, history.

Sits above crypto, format and gitstore; never imports typer or rich.
"""
