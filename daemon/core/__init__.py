"""Pure facts shared by every part of the daemon: book, pairs, client ids, accounting, economics, funding history, halt."""
