"""clavis.audio"""
