"""Crawlers: the Scrapy project whose sites are configuration."""
