"""clavis.models"""
