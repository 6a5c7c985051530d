"""Classroom video and audio: probing with PyAV (FFmpeg's libraries, shipped in the `av`
wheels), renditions every phone plays, automated observations, and the evidence summary.

Nothing here touches the network, and only summary.py reads PostgreSQL (through a session
it is given); actions and workers call these. PyAV work is blocking: async callers run it
in a worker thread.
"""
