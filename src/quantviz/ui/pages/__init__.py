"""Tool pages as page functions, registered with `st.Page(callable, url_path=...)` in shell."""
