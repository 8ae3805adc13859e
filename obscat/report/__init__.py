"""The HTML report of a catalogue (``obscat report``): :mod:`.page` the page and its sections,
:mod:`.figures` the catalogue-wide figures and their embedding."""
