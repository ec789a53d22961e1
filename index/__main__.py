"""`python -m index [PATH ...]` is `qa index`."""
import sys

from qa.cli import main

sys.exit(main(["index", *sys.argv[1:]]))
