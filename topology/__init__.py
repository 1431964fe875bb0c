"""The topology as data: models, the document format, validation, addresses and specs."""
