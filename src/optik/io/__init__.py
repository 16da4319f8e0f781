"""Everything that touches files: input discovery, output paths, atomic writes, record writers."""
