"""logtool: web-server access logs kept the lawful way.

Parse, keep full detail for a short security window, anonymise, keep aggregates, delete.
Every CLI command is a thin wrapper over a function in this package.
"""

__version__ = "0.1.0"
