"""Adapters that put the Jinja2 helper where each framework keeps its templates.

One module per framework, each importing only that framework, ``assetpipe.jinja`` and
``assetpipe.reader``; none is imported here, so no framework is needed to use the others.
"""
