"""clavis.formats"""
