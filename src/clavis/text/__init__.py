"""clavis.text"""
