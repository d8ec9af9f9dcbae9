"""Kivy layout files, one per screen (a package so installs carry the .kv files)."""
