"""Chat without streamlit: transcripts, reader threads that stream replies, and SVG answers."""
