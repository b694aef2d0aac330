"""usher-pipeline: screen human protein-coding genes for under-studied cilia / Usher candidates."""

__version__ = "0.1.0"
