"""The `doctor` feature: can `listen` work on this machine?"""
