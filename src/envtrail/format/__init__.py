"""File formats: environment files, store settings, dotenv input and output.

Imports yaml and dotenv only (plus envtrail.errors and envtrail.model).
"""
