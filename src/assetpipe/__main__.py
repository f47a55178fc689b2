"""``python -m assetpipe``: the same CLI as the console script."""

from assetpipe.cli import main

main()
