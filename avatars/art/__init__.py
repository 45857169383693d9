"""Our own vector artwork for the hosts, their scenes and the products: paths kept as code
and SVG path data, rasterised by skia."""
