"""maas-sim: a MAAS 3.x API simulator."""
