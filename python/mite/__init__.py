"""mite-rs"""
