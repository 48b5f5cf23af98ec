"""The mlops-governance policy pack: ``__main__.py`` builds the pack, ``rules/`` holds the rules."""
