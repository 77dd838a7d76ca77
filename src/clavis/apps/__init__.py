"""clavis.apps"""
