"""Tools around the product, for people: the `gecko-pipeline` command (demo, dev stack, order and
webhook commands, the sandbox launcher), process management, background servers for tests and benches.
Nothing in the product imports from here."""
