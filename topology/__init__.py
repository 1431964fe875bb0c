"""The topology as data, with no Django: the document format, node kinds, validation,
address management, and compiling a lab into per-host specs."""
