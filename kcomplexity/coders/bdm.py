"""Placeholder until the BDM engine lands (issue 3)."""
