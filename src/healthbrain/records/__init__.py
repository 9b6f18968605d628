"""The core clinical record shared by every module: encounters, observations, conditions …"""
