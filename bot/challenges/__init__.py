"""The challenge log's pure logic: post parsing, topic inference, error text, search queries, export."""
