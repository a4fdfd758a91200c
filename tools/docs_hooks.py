"""Pages that live elsewhere in the repository: the README as the home page, its Spanish quick
start, the benchmarks' README, and the course notebooks with their reading order. Added to mkdocs' files as they are,
so that the README's own relative links (benchmarks/README.md, examples/notebooks/...) work."""
from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]  # the repository
PAGES = {"README.md": "index.md", "README.es.md": "README.es.md", "benchmarks/README.md": "benchmarks/README.md",
         "examples/notebooks/README.md": "examples/notebooks/README.md"}


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns the .ipynb files into pages
def on_files(files: Files, config) -> Files:
    for source, page in PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    for notebook in sorted((ROOT / "examples" / "notebooks").glob("*.ipynb")):
        # a plain file with the repository as its folder (mkdocs-jupyter wraps plain files only)
        files.append(File(str(notebook.relative_to(ROOT)), src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files

def on_page_markdown(markdown: str, page, config, files) -> str:
    """The README is the site's index.md: links to it from the other pages follow it there, and
    its links into docs/ lead to the site's own pages (docs/ is the site's root)."""
    if page.file.src_uri == "README.es.md":
        markdown = markdown.replace("](README.md", "](index.md")
    if page.file.src_uri == "index.md":
        markdown = markdown.replace("](docs/", "](")
    return markdown
