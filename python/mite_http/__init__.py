"""mite_http"""
