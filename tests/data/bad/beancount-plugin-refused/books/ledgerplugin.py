"""A plugin in the data folder: never imported without --allow-plugins."""

__plugins__ = ()
