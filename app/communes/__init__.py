"""The communes of France: the official list (package.py), the INSEE code of an address
(index.py), filling entries' codes (fill.py) and the `flask communes` commands (cli.py)."""
