"""Notebook display: rich reprs of results and messages, and the ipywidgets views."""
