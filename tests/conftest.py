"""Shared fixtures: the database fixtures come from the mdocument pytest plugin."""
