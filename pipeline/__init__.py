"""Newswatch: polls news feeds, keeps what is new and on topic, writes a daily digest."""

__version__ = "0.1.0"
