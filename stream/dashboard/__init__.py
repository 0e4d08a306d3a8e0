"""The live dashboard (``orbitlink dashboard``): a read-only downstream consumer of the output
topics serving a page on 127.0.0.1 (:class:`~orbitlink.stream.dashboard.server.Dashboard`)."""
