"""The certificate: a static page per home and week, and the operator's portfolio page.

`content` turns score vectors into what a page says (words, numbers, no markup), `plots`
into the geometry of its inline SVG charts, `render` both into HTML through Jinja2
templates with autoescape on, `publish` writes the pages to a bucket or a folder. What a
certificate may show is decided here once: the area as a time zone, rooms by type, daily
ranges; never a sensor MAC, an hourly series or a location (docs/certificates.md).
"""
