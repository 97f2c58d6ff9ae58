"""python -m tests.fakehub FILE PORT [PAGE_DELAY]: serve a JSON-lines file of Hub records."""

from tests.fakehub.server import main

main()
