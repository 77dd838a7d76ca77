"""clavis.runtime"""
