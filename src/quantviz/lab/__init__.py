"""Lab files: Markdown with YAML frontmatter, read into sections, Markdown, callouts and markers."""
