"""Replaying cassettes and chunk files through a streaming interface."""
