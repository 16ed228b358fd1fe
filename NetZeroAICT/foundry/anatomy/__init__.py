"""Procedural anatomy, one module per indication (``build``, ``draw_pathology``, defaults), plus shared parts."""
