"""`python -m optimize`: search config.pbtxt knobs for a model on the live server."""
