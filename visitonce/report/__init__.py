"""Reports people read: self-contained HTML pages (inline CSS and SVG, no network) drawn from a
run's output tables, and exports for downstream tools. ``stage`` reads and writes; ``model``
shapes small tables into page contexts; ``render`` fills the Jinja2 templates; ``svg`` draws;
``exports`` suppresses small cells and speaks Open311."""
