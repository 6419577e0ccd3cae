"""The composition root: the command line, the running service, the demo and its embedded servers.

It may import every other package; none of them imports it.
"""
