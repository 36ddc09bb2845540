"""The Gradio front end's pure parts: rendering (render.py) and handlers (handlers.py)."""
