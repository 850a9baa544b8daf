"""The IPython layer: the magic classes, what they share, and the extension that registers them.

With ``heroku_magic.widgets`` the only code that imports IPython (tests/test_layers.py). This file
imports nothing, so that ``%load_ext heroku_magic`` loads only ``extension`` and the magic classes.
"""
