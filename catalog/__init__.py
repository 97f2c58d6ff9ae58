"""The registry of models, datasets and licenses, and the compliance engine. No HTTP here."""
