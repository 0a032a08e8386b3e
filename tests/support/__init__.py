"""Helpers shared by the tests (pytest puts ``tests/`` on ``sys.path``); no tests of their own."""
