"""Question in, cited answer out: retrieve -> answer -> cite, assembled by `qa.chain.build_chain`.

Importing this package is cheap; models, stores and UI are built in factories, never on import.
"""
