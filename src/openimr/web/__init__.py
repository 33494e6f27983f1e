"""The web workbench and HTTP API (``openimr serve``)."""
