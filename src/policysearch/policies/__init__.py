"""Policies: the tabular matrix, neural specs, their numpy actors and torch modules.

Importing this package does not import torch; :mod:`.torch_policy` does.
"""
